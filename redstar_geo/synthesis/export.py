"""Export the synthesised SFT set and DPO pairs for other trainers: LLaMA-Factory (ShareGPT JSON) and Hugging Face
``datasets`` (TRL's vision columns).

Usage::

    from redstar_geo.synthesis.export import export_hf, export_sharegpt

    paths = export_sharegpt(sft_records, pairs, data_dir="synth/run1", out_dir="synth/run1/llamafactory")
    # -> sft.json, dpo.json, dataset_info.json and images/ in out_dir; train with LLaMA-Factory's
    #    `dataset_dir: synth/run1/llamafactory`, `dataset: redstar_geo_sft` (or `redstar_geo_dpo` for DPO)
    paths = export_hf(sft_records, pairs, data_dir="synth/run1", out_dir="synth/run1/hf")
    # -> out_dir/sft and out_dir/dpo, each a `save_to_disk` directory: datasets.load_from_disk(paths["dpo"])

``sft_records`` are the records :func:`redstar_geo.sft_data.write_sft_jsonl` writes (``id``, ``image`` or
``images``, ``messages``, ``completion``); ``pairs`` are the synthesis stage's DPO pairs (``id``, ``image``,
``prompt``, ``chosen``, ``rejected``, ``rejected_reasons``, ...). Relative image paths in both are relative to
``data_dir``. Both go through :func:`redstar_geo.sft_data.parse_record`, the parser training uses, so an export
holds exactly what our own SFT loader would read (a prompt without ``<image>`` gets the image before its text).

The ShareGPT export copies every image under ``out_dir`` so the directory is self-contained (LLaMA-Factory resolves
image paths against its ``dataset_dir``); the Hugging Face export embeds the image bytes in the dataset.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from redstar_geo.import_utils import require
from redstar_geo.jsonl import DataError, write_json
from redstar_geo.sft_data import SFTSample, parse_record, placeholder_text, to_trl_dataset

# The names the datasets are registered under in dataset_info.json (what a LLaMA-Factory config's `dataset:` names).
SFT_DATASET = "redstar_geo_sft"
DPO_DATASET = "redstar_geo_dpo"
SFT_FILE = "sft.json"
DPO_FILE = "dpo.json"
DATASET_INFO_FILE = "dataset_info.json"
IMAGES_DIR = "images"


# ---------------------------------------------------------------------------------------------------------------
# Records -> parsed samples (the one parser training uses)
# ---------------------------------------------------------------------------------------------------------------
def _sft_sample(record: dict, data_dir: Path, index: int) -> SFTSample:
    return parse_record(record, image_root=data_dir, index=index, where=f"SFT record {index}")


def _pair_sample(pair: dict, data_dir: Path, index: int) -> tuple[SFTSample, str]:
    """A DPO pair as the prompt (and image) of an :class:`SFTSample` whose completion is ``chosen``, plus the
    rejected text. A pair of another shape is a :class:`DataError`, one whose prompt does not parse an
    :class:`redstar_geo.sft_data.SFTRecordError`, both naming it."""
    if not isinstance(pair, dict) or not all(isinstance(pair.get(k), str) for k in ("chosen", "rejected")):
        who = pair.get("id") if isinstance(pair, dict) else None
        raise DataError(f"DPO pair {who or index}: needs 'prompt' messages and 'chosen' and 'rejected' strings")
    record = {"id": pair.get("id"), "messages": pair.get("prompt"), "completion": pair["chosen"]}
    if pair.get("image") is not None:
        record["image"] = pair["image"]
    elif pair.get("images"):
        record["images"] = pair["images"]
    return parse_record(record, image_root=data_dir, index=index, where=f"DPO pair {index}"), pair["rejected"]


def _assistant_text(sample: SFTSample) -> str:
    return "".join(placeholder_text(m["content"]) for m in sample.completion)


# ---------------------------------------------------------------------------------------------------------------
# Images
# ---------------------------------------------------------------------------------------------------------------
class _ImageCopier:
    """Copies each source image once under ``out_dir`` and returns its path relative to ``out_dir``.

    A path relative to ``data_dir`` keeps its relative path (``images/geosynth-3.png`` stays that), so the export
    mirrors the synthesis directory; an absolute path, or one leaving ``data_dir``, goes to ``images/`` under a name
    made unique by a hash of its source path. When ``out_dir`` is ``data_dir`` nothing is copied.
    """

    def __init__(self, data_dir: Path, out_dir: Path):
        self.data_dir = data_dir
        self.out_dir = out_dir
        self.copied: dict[Path, str] = {}  # resolved source -> path relative to out_dir
        self.taken: set[str] = set()

    def __call__(self, image: str | bytes, owner: str) -> str:
        if isinstance(image, bytes):  # our records hold paths; bytes would come from a hand-made record
            digest = hashlib.sha256(image).hexdigest()[:16]
            rel = f"{IMAGES_DIR}/{digest}.png"
            target = self.out_dir / rel
            if rel not in self.taken:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(image)
                self.taken.add(rel)
            return rel
        source = Path(image).resolve()
        if source in self.copied:
            return self.copied[source]
        if not source.is_file():
            raise DataError(f"{owner}: image {image} not found")
        rel = self._destination(source)
        target = self.out_dir / rel
        if not (target.exists() and target.samefile(source)):
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
        self.copied[source] = rel
        self.taken.add(rel)
        return rel

    def _destination(self, source: Path) -> str:
        try:
            rel = source.relative_to(self.data_dir.resolve()).as_posix()
        except ValueError:
            rel = None
        if rel is None or rel in self.taken:
            digest = hashlib.sha256(str(source).encode()).hexdigest()[:8]
            rel = f"{IMAGES_DIR}/{source.stem}-{digest}{source.suffix}"
        return rel


# ---------------------------------------------------------------------------------------------------------------
# LLaMA-Factory (ShareGPT)
# ---------------------------------------------------------------------------------------------------------------
def dataset_info() -> dict[str, dict]:
    """The ``dataset_info.json`` entries of the two exported files, as LLaMA-Factory's ``data/README.md`` documents
    them: the SFT file in the OpenAI-style ``messages`` form (role/content tags), the DPO file in the default
    ``conversations`` form (from/value tags) with ``chosen``/``rejected`` messages and ``ranking: true``."""
    return {
        SFT_DATASET: {
            "file_name": SFT_FILE,
            "formatting": "sharegpt",
            "columns": {"messages": "messages", "images": "images"},
            "tags": {
                "role_tag": "role",
                "content_tag": "content",
                "user_tag": "user",
                "assistant_tag": "assistant",
                "system_tag": "system",
            },
        },
        DPO_DATASET: {
            "file_name": DPO_FILE,
            "formatting": "sharegpt",
            "ranking": True,
            "columns": {"messages": "conversations", "chosen": "chosen", "rejected": "rejected", "images": "images"},
            "tags": {
                "role_tag": "from",
                "content_tag": "value",
                "user_tag": "human",
                "assistant_tag": "gpt",
                "system_tag": "system",
            },
        },
    }


_SHAREGPT_ROLES = {"user": "human", "assistant": "gpt", "system": "system"}


def export_sharegpt(sft_records: list[dict], pairs: list[dict], data_dir, out_dir) -> dict[str, Path]:
    """Write ``sft.json``, ``dpo.json`` and ``dataset_info.json`` (LLaMA-Factory's multimodal ShareGPT format) and
    the images they use into ``out_dir``; image paths in the files are relative to ``out_dir``. Returns the paths
    under ``"sft"``, ``"dpo"`` and ``"dataset_info"``.

    ``<image>`` marks each image in the user turn, one per entry of ``images``: LLaMA-Factory refuses a sample whose
    placeholders and images disagree.
    """
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    copy_image = _ImageCopier(data_dir, out_dir)

    sft_rows = []
    for index, record in enumerate(sft_records):
        sample = _sft_sample(record, data_dir, index)
        messages = [{"role": m["role"], "content": placeholder_text(m["content"])} for m in sample.prompt]
        messages.append({"role": "assistant", "content": _assistant_text(sample)})
        images = [copy_image(img, f"SFT record {sample.id!r}") for img in sample.images]
        sft_rows.append({"messages": messages, "images": images})

    dpo_rows = []
    for index, pair in enumerate(pairs):
        sample, rejected = _pair_sample(pair, data_dir, index)
        conversations = [
            {"from": _SHAREGPT_ROLES[m["role"]], "value": placeholder_text(m["content"])} for m in sample.prompt
        ]
        images = [copy_image(img, f"DPO pair {sample.id!r}") for img in sample.images]
        dpo_rows.append(
            {
                "conversations": conversations,
                "chosen": {"from": "gpt", "value": _assistant_text(sample)},
                "rejected": {"from": "gpt", "value": rejected},
                "images": images,
            }
        )

    paths = {"sft": out_dir / SFT_FILE, "dpo": out_dir / DPO_FILE, "dataset_info": out_dir / DATASET_INFO_FILE}
    write_json(paths["sft"], sft_rows)
    write_json(paths["dpo"], dpo_rows)
    write_json(paths["dataset_info"], dataset_info())
    return paths


# ---------------------------------------------------------------------------------------------------------------
# Hugging Face datasets (TRL)
# ---------------------------------------------------------------------------------------------------------------
class _ImageBytes:
    """Reads each image file once: a problem's diagram is shared by all its samples."""

    def __init__(self):
        self.cache: dict[str, bytes] = {}

    def __call__(self, image: str | bytes, owner: str) -> bytes:
        if isinstance(image, bytes):
            return image
        if image not in self.cache:
            path = Path(image)
            if not path.is_file():
                raise DataError(f"{owner}: image {image} not found")
            self.cache[image] = path.read_bytes()
        return self.cache[image]


def _messages_feature(datasets):
    text = datasets.Value("string")
    return datasets.List({"role": text, "content": datasets.List({"type": text, "text": text})})


# Declared rather than inferred, so an empty set still saves with the right column types.
def _sft_features(datasets):
    return datasets.Features(
        {
            "id": datasets.Value("string"),
            "images": datasets.List(datasets.Image()),
            "prompt": _messages_feature(datasets),
            "completion": _messages_feature(datasets),
            "problem_id": datasets.Value("string"),
            "sample": datasets.Value("int64"),
        }
    )


def _dpo_features(datasets):
    return datasets.Features(
        {
            "id": datasets.Value("string"),
            "problem_id": datasets.Value("string"),
            "images": datasets.List(datasets.Image()),
            "prompt": _messages_feature(datasets),
            "chosen": _messages_feature(datasets),
            "rejected": _messages_feature(datasets),
            "rejected_reasons": datasets.List(datasets.Value("string")),
            "chosen_sample": datasets.Value("int64"),
            "rejected_sample": datasets.Value("int64"),
        }
    )


def _save(dataset, path: Path) -> None:
    # An empty dataset saved in the default zero shards cannot be loaded back (datasets' load_from_disk fails on it).
    dataset.save_to_disk(str(path), num_shards=1 if len(dataset) == 0 else None)


def export_hf(sft_records: list[dict], pairs: list[dict], data_dir, out_dir) -> dict[str, Path]:
    """Save ``out_dir/sft`` and ``out_dir/dpo`` as Hugging Face datasets (``save_to_disk``) in TRL's vision form;
    returns their paths under ``"sft"`` and ``"dpo"``.

    * ``sft``: ``images`` (a list of Image), ``prompt`` (messages with ``{"type": "image"}`` / ``{"type": "text"}``
      blocks), ``completion`` (the assistant message), ``id``, ``problem_id``, ``sample`` — what ``SFTTrainer``
      reads, built by :func:`redstar_geo.sft_data.to_trl_dataset`;
    * ``dpo``: ``images``, ``prompt``, ``chosen``, ``rejected`` (assistant messages), ``rejected_reasons``, ``id``,
      ``problem_id``, ``chosen_sample``, ``rejected_sample`` — what ``DPOTrainer``'s vision collator reads.

    Image bytes are embedded, so the directories can be moved or uploaded without the synthesis directory.
    """
    datasets = require("datasets", extra="train", feature="the Hugging Face export")
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    image_bytes = _ImageBytes()

    sft_samples = []
    for index, record in enumerate(sft_records):
        sample = _sft_sample(record, data_dir, index)
        sample.images = [image_bytes(img, f"SFT record {sample.id!r}") for img in sample.images]
        sft_samples.append(sample)
    sft = to_trl_dataset(sft_samples)
    sft = sft.add_column("problem_id", [str(r.get("problem_id", "")) for r in sft_records])
    sft = sft.add_column("sample", [r.get("sample") for r in sft_records])
    sft = sft.cast(_sft_features(datasets))

    rows: dict[str, list] = {name: [] for name in _dpo_features(datasets)}
    for index, pair in enumerate(pairs):
        sample, rejected = _pair_sample(pair, data_dir, index)
        rows["id"].append(sample.id)
        rows["problem_id"].append(str(pair.get("problem_id", "")))
        rows["images"].append(
            [{"bytes": image_bytes(img, f"DPO pair {sample.id!r}"), "path": None} for img in sample.images]
        )
        rows["prompt"].append(sample.prompt)
        rows["chosen"].append(sample.completion)
        rows["rejected"].append([{"role": "assistant", "content": [{"type": "text", "text": rejected}]}])
        rows["rejected_reasons"].append(list(pair.get("rejected_reasons") or []))
        rows["chosen_sample"].append(pair.get("chosen_sample"))
        rows["rejected_sample"].append(pair.get("rejected_sample"))
    dpo = datasets.Dataset.from_dict(rows, features=_dpo_features(datasets))

    paths = {"sft": out_dir / "sft", "dpo": out_dir / "dpo"}
    _save(sft, paths["sft"])
    _save(dpo, paths["dpo"])
    return paths


__all__ = ["DPO_DATASET", "SFT_DATASET", "dataset_info", "export_hf", "export_sharegpt"]
