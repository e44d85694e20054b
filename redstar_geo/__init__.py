"""redstar-geo: Long-CoT geometry reasoning for multimodal LLMs.

The core (``schema``, ``benchmarks``, ``judge``, ``evaluation``) imports without torch or any model code; training,
serving and fast inference live in modules that import their heavy dependencies where they are used.
"""

__version__ = "0.1.0"
