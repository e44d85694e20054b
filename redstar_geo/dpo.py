"""Preference optimisation (DPO) of a vision-language model on verified / failed Long-CoT pairs, with TRL's
``DPOTrainer``, starting from an SFT checkpoint.

Usage (what ``train/dpo_geo.py`` does)::

    from trl import ModelConfig
    from redstar_geo.config import parse_config
    from redstar_geo.dpo import DPOConfig, DPOScriptArguments, run_dpo

    # --config recipes/dpo/x.yaml ... (model, LoRA, data and training options in one recipe)
    script_args, training_args, model_args = parse_config(DPOScriptArguments, DPOConfig, ModelConfig)
    result = run_dpo(script_args, training_args, model_args)

``DPOConfig`` is TRL's ``DPOConfig`` (beta, loss_type, loss_weights, ld_alpha, max_length, plus every
``transformers.TrainingArguments`` option) with one field added, ``rpo_alpha``: TRL 1.x dropped that field and
expresses RPO (DPO + alpha * NLL of the chosen trace) as ``loss_type: [sigmoid, sft]`` with ``loss_weights: [1,
alpha]``; ``rpo_alpha`` is mapped onto exactly that, so TRL's own loss code does the work. ``ld_alpha`` (LD-DPO's
down-weighting of the longer trace's extra tokens: the length bias DPO picks up on Long-CoT pairs) is TRL's field.
``ModelConfig`` is TRL's too (model, dtype, LoRA); :class:`DPOScriptArguments` holds the data options and the
tiny-model, freezing and image-budget options every trainer shares (:class:`redstar_geo.training.VLMScriptArguments`).

Data (:func:`load_pairs`): the ``dpo.jsonl`` synthesis writes (``{"id", "image", "prompt": [{"role", "content":
"<image>..."}], "chosen": "<trace>", "rejected": "<trace>", ...}``, image paths relative to the file), TRL's standard
preference form (``prompt`` messages, ``chosen`` / ``rejected`` as assistant messages or strings, ``images``, as in
the synthesis Hugging Face export) and LLaMA-Factory's ShareGPT ranking form (``conversations``, ``chosen`` /
``rejected`` as one ``{"from", "value"}`` message). A record that cannot be used is dropped and counted, named by
file, line and id (:class:`DPOReport`, and the ``issues`` log).

Lengths: TRL's DPO collator cuts every sequence at ``max_length`` (1,024 by default), which would cut image tokens
or the end of a trace without a word. Here each pair is measured before training with TRL's own collator (image
tokens expanded, exactly the tokens training sees); a pair whose chosen or rejected sequence (image + prompt +
trace) is longer than ``max_length`` is dropped and reported with its id, and the trainer is then built with
``max_length`` unset, so what remains is never truncated.

The reference model: with LoRA there is no copy (TRL disables the adapter to get the starting model's log-probs);
for a full fine-tune TRL loads a frozen copy from ``model_name_or_path``, the starting SFT checkpoint, also when
resuming.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trl
from trl import DPOTrainer  # the `train` extra; this module is the training entry point

# Not exported by `trl` (1.16): the collator DPOTrainer builds for image datasets, used here to measure each pair
# exactly as training will tokenize it.
from trl.trainer.dpo_trainer import DataCollatorForVisionPreference

from redstar_geo.benchmarks.common import is_hub_id
from redstar_geo.images import ImageLoadError
from redstar_geo.import_utils import require
from redstar_geo.jsonl import DataError, IssueLog
from redstar_geo.sft_data import SFTRecordError, SFTReport, SFTSample, iter_records, parse_record
from redstar_geo.training import (
    ResumeMixin,
    TrainingResult,
    TrainingSetupError,
    VLMScriptArguments,
    check_model_args,
    freeze_modules,
    resolve_report_to,
    resolve_resume,
    setup_model,
    setup_peft,
    setup_processor,
    setup_tiny_model,
    train_and_save,
    write_model_card,
)

logger = logging.getLogger(__name__)

# Reasons a pair is left out of training, in the order the report lists them.
DPO_DROP_REASONS = {
    "bad_record": "malformed record",
    "missing_image": "image missing or unreadable",
    "no_assistant": "empty chosen or rejected trace",
    "placeholder_mismatch": "<image> placeholders do not match the images",
    "same_completion": "chosen and rejected are the same text (nothing to prefer)",
    "too_long": "image + prompt + trace longer than max_length (dropped, not truncated)",
}
# Trainer-config keys the model card lists besides the shared ones.
DPO_CARD_KEYS = ("beta", "loss_type", "loss_weights", "ld_alpha", "rpo_alpha", "label_smoothing")


class GeoDPOTrainer(ResumeMixin, DPOTrainer):
    """TRL's ``DPOTrainer`` whose ``resume_from_checkpoint`` loads the checkpoint's weights (see
    :class:`redstar_geo.training.ResumeMixin`); built by :func:`setup_trainer`."""


@dataclass
class DPOConfig(trl.DPOConfig):
    """TRL's ``DPOConfig`` plus ``rpo_alpha``, mapped onto TRL's multi-loss (``sigmoid`` + ``alpha * sft``)."""

    rpo_alpha: float | None = field(
        default=None,
        metadata={
            "help": "RPO: add rpo_alpha x the NLL of the chosen trace to the DPO loss (TRL's 'sft' loss term; the "
            "RPO paper uses 1.0). Sets loss_type to [sigmoid, sft] and loss_weights to [1, rpo_alpha]"
        },
    )

    def __post_init__(self):
        if self.ld_alpha is not None and not 0.0 <= self.ld_alpha <= 1.0:
            raise ValueError(
                f"ld_alpha must be in [0, 1] (1: plain DPO, 0: no weight past the shared length), got {self.ld_alpha}"
            )
        if self.rpo_alpha is not None:
            if self.rpo_alpha < 0:
                raise ValueError(f"rpo_alpha must be >= 0, got {self.rpo_alpha}")
            loss_type = [self.loss_type] if isinstance(self.loss_type, str) else list(self.loss_type)
            if "sft" in loss_type:
                raise ValueError(
                    "rpo_alpha adds the 'sft' loss term, and loss_type already has one: give either rpo_alpha or "
                    "loss_type [..., sft] with its loss_weights, not both"
                )
            weights = list(self.loss_weights) if self.loss_weights is not None else [1.0] * len(loss_type)
            if len(weights) != len(loss_type):
                raise ValueError(f"loss_weights {weights} must have one weight per loss_type {loss_type}")
            self.loss_type = [*loss_type, "sft"]
            self.loss_weights = [*weights, float(self.rpo_alpha)]
        super().__post_init__()


@dataclass
class DPOScriptArguments(VLMScriptArguments):
    """Data options of ``train/dpo_geo.py``, after the shared tiny-model, freezing and image-budget options
    (the model and LoRA are TRL's ``ModelConfig``, training :class:`DPOConfig`)."""

    dataset: str = field(
        default="tests/assets/dpo/dpo.jsonl",
        metadata={
            "help": "preference pairs: the dpo.jsonl of data_prep/synthesize.py, a .jsonl/.json file in TRL's or "
            "LLaMA-Factory's preference form, a saved dataset, or a hub dataset id"
        },
    )
    dataset_split: str = field(default="train", metadata={"help": "split of a Hugging Face dataset"})
    max_samples: int | None = field(default=None, metadata={"help": "use only the first N valid pairs"})
    sft_recipe: str | None = field(
        default=None,
        metadata={
            "help": "when model_name_or_path holds no model yet, first train it with train/sft_geo.py's recipe "
            "SFT_RECIPE (its output_dir set to model_name_or_path): the tiny default runs SFT's tiny recipe"
        },
    )


# ---------------------------------------------------------------------------------------------------------------------
# Data


@dataclass
class PreferencePair:
    """One pair: the images (paths or bytes), the prompt messages and the chosen and rejected assistant messages, in
    the structured content-block form of :class:`redstar_geo.sft_data.SFTSample`."""

    id: str
    images: list[str | bytes]
    prompt: list[dict[str, Any]]
    chosen: list[dict[str, Any]]
    rejected: list[dict[str, Any]]
    where: str = ""  # file and line (or record index), for messages

    def as_sample(self) -> SFTSample:
        """The prompt and images as an :class:`SFTSample` (its completion is the chosen trace), to open images."""
        return SFTSample(id=self.id, images=self.images, prompt=self.prompt, completion=self.chosen)


@dataclass
class DPOReport(SFTReport):
    """What loading and validation kept and dropped: counts and up to five example ids (with the message) per
    reason; ``max_tokens`` is the longest kept sequence (image + prompt + the longer trace)."""

    def format(self) -> str:
        lines = [f"DPO data: {self.kept} of {self.total} pairs kept (longest kept: {self.max_tokens} tokens)"]
        for reason, text in DPO_DROP_REASONS.items():
            if self.dropped[reason]:
                lines.append(f"  dropped {self.dropped[reason]}: {text}; e.g. {self.examples[reason][0]}")
        return "\n".join(lines)


def _completion(value: Any) -> Any:
    """A chosen/rejected value as ``parse_record`` takes a completion: a string, or a list of assistant messages (a
    single ShareGPT ``{"from": "gpt", "value": ...}`` message becomes a list of one)."""
    return [value] if isinstance(value, dict) else value


def parse_pair(record: Any, image_root: str | Path | None = None, where: str = "record 0") -> PreferencePair:
    """One record in any accepted form as a :class:`PreferencePair`; raises :class:`SFTRecordError` (``reason`` a key
    of :data:`DPO_DROP_REASONS`) whose message starts with ``where`` and the pair's id."""
    if not isinstance(record, dict):
        raise SFTRecordError("bad_record", f"{where}: not a JSON object but {type(record).__name__}")
    pair_id = record.get("id")
    who = where if pair_id is None else f"{where}, pair {str(pair_id)!r}"
    messages = record.get("prompt", record.get("conversations", record.get("messages")))
    if messages is None:
        raise SFTRecordError(
            "bad_record", f"{who}: no 'prompt' messages (an implicit prompt inside chosen/rejected is not read)"
        )
    if isinstance(messages, str):  # TRL's plain-text preference form: the prompt is one user turn
        messages = [{"role": "user", "content": messages}]
    parsed = {}
    for key in ("chosen", "rejected"):
        if key not in record or record[key] is None:
            raise SFTRecordError("bad_record", f"{who}: no '{key}' trace")
        base = {"messages": messages, "completion": _completion(record[key])}
        for image_key in ("images", "image"):
            if record.get(image_key) is not None:
                base[image_key] = record[image_key]
                break
        try:
            # Without its id, parse_record names the record by `what` (file, line and id) in every message.
            parsed[key] = parse_record(base, image_root, where=f"{who} ({key})")
        except SFTRecordError as exc:
            exc.sample_id = None if pair_id is None else str(pair_id)
            raise
    chosen, rejected = parsed["chosen"], parsed["rejected"]
    if chosen.completion == rejected.completion:
        raise SFTRecordError("same_completion", f"{who}: chosen and rejected are the same text")
    return PreferencePair(
        id=str(pair_id) if pair_id is not None else where,
        images=chosen.images,
        prompt=chosen.prompt,
        chosen=chosen.completion,
        rejected=rejected.completion,
        where=where,
    )


def load_pairs(
    path: str, report: DPOReport, issues: IssueLog | None = None, split: str = "train"
) -> list[PreferencePair]:
    """The parsable pairs of a JSONL/JSON file or a Hugging Face dataset; every record that is not one (including a
    JSONL line that is not JSON) is counted in ``report`` and logged to ``issues`` with its file, line and id."""
    issues = IssueLog() if issues is None else issues
    before = len(issues)
    rows, image_root = iter_records(path, issues, split, what="DPO")
    name = Path(path).name if Path(path).is_file() else path
    pairs, seen = [], set()
    for index, (line, record) in enumerate(rows):
        where = f"{name} line {line}" if line is not None else f"{name} record {index}"
        try:
            pair = parse_pair(record, image_root, where)
        except SFTRecordError as exc:
            rec_id = record.get("id") if isinstance(record, dict) else None
            issues.add(path, line, rec_id, str(exc))
            report.total += 1
            report.add(exc.reason, where if rec_id is None else str(rec_id), str(exc))
            continue
        if pair.id in seen:
            issues.add(path, line, pair.id, "duplicate pair id; kept the first")
            continue
        seen.add(pair.id)
        pairs.append(pair)
    # Lines that were not JSON at all never reached the parser: they count as malformed records too.
    for issue in issues[before:]:
        if issue.message.startswith(("invalid JSON", "not valid UTF-8")):
            report.total += 1
            report.add("bad_record", f"{name} line {issue.line}", f"{name} line {issue.line}: {issue.message}")
    return pairs


def _collator_row(pair: PreferencePair, images: list) -> dict:
    """The dataset row TRL's vision preference collator takes (copies: the collator rewrites rows in place)."""
    return {
        "images": images,
        "prompt": copy.deepcopy(pair.prompt),
        "chosen": copy.deepcopy(pair.chosen),
        "rejected": copy.deepcopy(pair.rejected),
    }


def pair_lengths(pair: PreferencePair, processor, images: list) -> tuple[int, int]:
    """Tokens of ``(prompt + chosen, prompt + rejected)``, image tokens expanded, as TRL's collator builds them."""
    collator = DataCollatorForVisionPreference(processor=processor, max_length=None)
    lengths = collator([_collator_row(pair, images)])["attention_mask"].sum(dim=1).tolist()
    return int(lengths[0]), int(lengths[1])


def validate_pairs(
    pairs: list[PreferencePair], processor=None, max_length: int | None = None, report: DPOReport | None = None
) -> tuple[list[PreferencePair], DPOReport]:
    """Keep the pairs that can train as they are; count and name the others.

    Every image is opened (missing or corrupt -> ``missing_image``). With a ``processor`` and ``max_length``, both
    sequences of a pair are measured exactly as training builds them, and a pair with either longer than
    ``max_length`` is dropped whole (``too_long``): never a cut image, never a cut trace.
    """
    report = DPOReport() if report is None else report
    kept = []
    for pair in pairs:
        report.total += 1
        try:
            images = pair.as_sample().load_images()
        except ImageLoadError as exc:
            report.add("missing_image", pair.id, f"{pair.where}: {exc}")
            continue
        if processor is not None and max_length is not None:
            chosen, rejected = pair_lengths(pair, processor, images)
            if max(chosen, rejected) > max_length:
                report.add(
                    "too_long",
                    pair.id,
                    f"{pair.where}: chosen {chosen} / rejected {rejected} tokens > max_length {max_length}",
                )
                continue
            report.max_tokens = max(report.max_tokens, chosen, rejected)
        kept.append(pair)
    report.kept = len(kept)
    return kept, report


def load_and_validate_pairs(
    path: str, processor=None, max_length: int | None = None, split: str = "train", issues: IssueLog | None = None
) -> tuple[list[PreferencePair], DPOReport]:
    """:func:`load_pairs` + :func:`validate_pairs`, every dropped record in one :class:`DPOReport`."""
    report = DPOReport()
    pairs = load_pairs(path, report, issues, split)
    return validate_pairs(pairs, processor, max_length, report)


def to_trl_preference_dataset(pairs: list[PreferencePair]):
    """A ``datasets.Dataset`` in TRL's vision preference form: ``images`` (decoded lazily), ``prompt``, ``chosen``,
    ``rejected``, plus ``id``. ``DPOTrainer`` renders it with the processor's chat template."""
    datasets = require("datasets", extra="train", feature="building the training dataset")
    rows = {
        "id": [p.id for p in pairs],
        "images": [
            [
                {"bytes": img, "path": None} if isinstance(img, bytes) else {"bytes": None, "path": img}
                for img in p.images
            ]
            for p in pairs
        ],
        "prompt": [p.prompt for p in pairs],
        "chosen": [p.chosen for p in pairs],
        "rejected": [p.rejected for p in pairs],
    }
    dataset = datasets.Dataset.from_dict(rows)
    return dataset.cast_column("images", datasets.List(datasets.Image()))


# ---------------------------------------------------------------------------------------------------------------------
# Setup steps (the shared ones are in redstar_geo.training)


def check_dpo_args(script_args: DPOScriptArguments, training_args: DPOConfig, model_args) -> None:
    """Refuse DPO options that cannot work, before anything is built or loaded."""
    path = Path(script_args.dataset)
    missing_file = path.suffix in (".jsonl", ".json") and not path.is_file()
    if missing_file or not (path.exists() or is_hub_id(script_args.dataset)):
        raise TrainingSetupError(
            f"--dataset {script_args.dataset}: no such file or directory (the dpo.jsonl of data_prep/synthesize.py, "
            "a .jsonl/.json preference file, a saved dataset or a hub dataset id)"
        )
    start = Path(model_args.model_name_or_path)
    if (start / "adapter_config.json").is_file() and not (start / "config.json").is_file():
        raise TrainingSetupError(
            f"--model_name_or_path {start}: a LoRA adapter, not a model; merge it into its base first "
            "(peft: PeftModel.from_pretrained(base, dir).merge_and_unload().save_pretrained(out), and save the "
            "processor beside it) and start DPO from the merged model"
        )
    if script_args.sft_recipe is not None and not Path(script_args.sft_recipe).is_file():
        raise TrainingSetupError(f"--sft_recipe {script_args.sft_recipe}: no such recipe file")
    if training_args.precompute_ref_log_probs:
        # TRL refuses it for image datasets (its collator processes images on the fly).
        raise TrainingSetupError("precompute_ref_log_probs: true is not supported for image datasets; set it false")


def setup_sft_start(script_args: DPOScriptArguments, model_args, training_args) -> None:
    """With ``sft_recipe``: train the starting checkpoint with that SFT recipe when ``model_name_or_path`` has none."""
    if script_args.sft_recipe is None or (Path(model_args.model_name_or_path) / "config.json").is_file():
        return
    from trl import ModelConfig

    from redstar_geo.config import parse_config
    from redstar_geo.sft import SFTConfig, SFTScriptArguments, run_sft

    logger.info("no model at %s: training it first with %s", model_args.model_name_or_path, script_args.sft_recipe)
    overrides = ["--output_dir", model_args.model_name_or_path, "--use_cpu", str(training_args.use_cpu).lower()]
    sft_args = parse_config(
        SFTScriptArguments, SFTConfig, ModelConfig, args=["--config", script_args.sft_recipe, *overrides]
    )
    result = run_sft(*sft_args)
    logger.info("SFT start checkpoint: %s", result.data.format())


def setup_data(script_args: DPOScriptArguments, processor, training_args: DPOConfig):
    """``(train_dataset, report)``: the validated pairs as TRL's preference dataset, and what was dropped.

    Raises :class:`redstar_geo.jsonl.DataError` for unusable input, including a set with no usable pair.
    """
    pairs, report = load_and_validate_pairs(
        script_args.dataset, processor, training_args.max_length, split=script_args.dataset_split
    )
    logger.info("%s", report.format())
    if script_args.max_samples is not None:
        pairs = pairs[: script_args.max_samples]
    if not pairs:
        raise DataError(f"no usable preference pairs in {script_args.dataset}:\n{report.format()}")
    return to_trl_preference_dataset(pairs), report


def setup_trainer(*, model, processor, train_dataset, peft_config, training_args: DPOConfig) -> GeoDPOTrainer:
    """A :class:`GeoDPOTrainer` whose collator never truncates (every pair was measured against ``max_length``)."""
    training_args.report_to = resolve_report_to(training_args.report_to)
    max_length = training_args.max_length
    training_args.max_length = None  # the collator is built now, without a cut; the pairs already fit
    try:
        trainer = GeoDPOTrainer(
            model=model,
            args=training_args,
            train_dataset=train_dataset,
            processing_class=processor,
            peft_config=peft_config,
        )
    finally:
        training_args.max_length = max_length  # as configured in saved checkpoints and the model card
    return trainer


def run_dpo(script_args: DPOScriptArguments, training_args: DPOConfig, model_args) -> TrainingResult:
    """Load the starting model and the pairs, train, and save model + processor + model card to ``output_dir``.

    ``model_args`` is TRL's ``ModelConfig``; its ``model_name_or_path`` is the starting (SFT) checkpoint and, for a
    full fine-tune, the frozen reference. ``training_args.resume_from_checkpoint``: a ``checkpoint-N`` directory, or
    ``auto`` for the last one in ``output_dir``. Raises :class:`redstar_geo.training.TrainingSetupError` for options
    that cannot work, :class:`redstar_geo.jsonl.DataError` for unusable data and
    :class:`redstar_geo.training.CheckpointLoadError` for a checkpoint that cannot be resumed.
    """
    resume = resolve_resume(training_args.resume_from_checkpoint, training_args.output_dir)
    check_model_args(model_args)
    check_dpo_args(script_args, training_args, model_args)
    setup_sft_start(script_args, model_args, training_args)
    setup_tiny_model(model_args, script_args, training_args)
    model, processor = setup_model(model_args, training_args)
    setup_processor(processor, model_args, script_args)
    train_dataset, report = setup_data(script_args, processor, training_args)
    freeze_modules(model, script_args.freeze_vision_tower, script_args.freeze_projector)
    peft_config = setup_peft(model_args)
    trainer = setup_trainer(
        model=model,
        processor=processor,
        train_dataset=train_dataset,
        peft_config=peft_config,
        training_args=training_args,
    )
    result = train_and_save(trainer, processor, resume, report)
    if trainer.is_world_process_zero():
        write_model_card(
            Path(training_args.output_dir),
            stage="dpo",
            method="`train/dpo_geo.py` (TRL `DPOTrainer` on verified (chosen) / failed (rejected) trace pairs)",
            dataset=script_args.dataset,
            model_args=model_args,
            script_args=script_args,
            training_args=training_args,
            result=result,
            extra_hyperparameters=DPO_CARD_KEYS,
        )
    return result


def reward_curve(log_history: list[dict]) -> list[tuple[int, float, float]]:
    """``[(step, loss, rewards/margins), ...]`` of a DPO run's ``trainer_state.json`` log history."""
    return [
        (entry["step"], entry["loss"], entry["rewards/margins"])
        for entry in log_history
        if "loss" in entry and "rewards/margins" in entry
    ]
