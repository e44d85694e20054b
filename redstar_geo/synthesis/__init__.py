"""Long-CoT synthesis: sample a slow-thinking teacher, verify every trace, keep verified traces for SFT and failed ones
as DPO negatives."""
