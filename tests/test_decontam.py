"""Decontamination (redstar_geo.decontam): text keys, diagram hashes, the banded index and the matching rule.

GeoSynth's held-out set is generated in-process (about 3 s, once per module); MathVerse tests read the real diagrams
in ../shared/data and skip where a checkout has none.
"""

import dataclasses
import io
import json
import random

import pytest
from PIL import Image, ImageFilter, ImageOps

from redstar_geo.benchmarks import data_dir, load_benchmark
from redstar_geo.decontam import (
    IMAGE_MAX_DISTANCE,
    EvalIndex,
    HashIndex,
    decontaminate,
    decontamination_summary,
    generator_signature,
    hamming,
    image_hash,
    normalize_text,
    number_signature,
)
from redstar_geo.geosynth import generate
from redstar_geo.jsonl import IssueLog
from redstar_geo.schema import Problem


@pytest.fixture(scope="module")
def heldout() -> list[Problem]:
    return load_benchmark("geosynth")


@pytest.fixture(scope="module")
def geosynth_index(heldout) -> EvalIndex:
    return EvalIndex.from_problems({"geosynth": heldout})


@pytest.fixture(scope="module")
def mathverse() -> list[Problem]:
    if not (data_dir() / "mathverse" / "images").is_dir():
        pytest.skip(f"no MathVerse diagrams in {data_dir()}")
    return load_benchmark("mathverse")


def _encode(image: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **kw)
    return buf.getvalue()


def _degrade(image: Image.Image) -> bytes:
    """What a scraped copy goes through: a margin, rescaled to 80 %, saved as JPEG."""
    image = ImageOps.expand(image, border=10, fill="white")
    image = image.resize((int(image.width * 0.8), int(image.height * 0.8)), Image.Resampling.LANCZOS)
    return _encode(image, "JPEG", quality=70)


def _copy(problem: Problem, **changes) -> Problem:
    """A training-set copy; metadata dropped unless given, so the generator signature does not give it away."""
    changes = {"id": "copy", "source": "scraped", "split": "train", "metadata": {}, **changes}
    return dataclasses.replace(problem, **changes)


def _reword(question: str) -> str:
    return (
        question.replace("As shown in the figure, ", "As shown in the diagram,  ")
        .replace("如图，", "如图所示：")
        .replace("( )", "（　）")
        .replace("=", "＝")
    )


# ------------------------------------------------------------------------------------------------ normalize_text


@pytest.mark.parametrize(
    "a, b",
    [
        # spacing, full-width forms, the blank, the boilerplate
        (
            ("As shown in the figure, in △ABC, ∠A = 80°, ∠B = 60°, then ∠C is ( )", ["40°", "60°"]),
            ("in △ABC,∠A＝80°，∠B＝60°，then  ∠C is（　）", ["６０°", "40 °"]),
        ),
        # GeoQA's bare "80.0" and other degree spellings; the choices in another order
        (
            ("As shown in the figure, angle A = 80.0, then angle B is ()", ["40°", "140°"]),
            ("As shown in the diagram, angle A = 80^{\\circ}, then angle B is ___", ["140º", "40"]),
        ),
        # Chinese: 如图 / 如图所示, full-width punctuation and blank
        (
            ("如图，AB是⊙O的直径，点C在⊙O上，若∠ABC=65°，则∠BAC的度数为（　）", ["25°", "50°"]),
            ("如图所示, AB是⊙O的直径, 点C在⊙O上, 若∠ABC＝65º, 则∠BAC的度数为( )", ["50°", "25°"]),
        ),
    ],
)
def test_normalize_text_variants_match(a, b):
    assert normalize_text(*a) == normalize_text(*b)


@pytest.mark.parametrize(
    "a, b",
    [
        (("If ∠A = 80°, then ∠B is ( )", ["40°", "60°"]), ("If ∠A = 60°, then ∠B is ( )", ["40°", "60°"])),
        (("AB = 6, 8 cm", []), ("AB = 68 cm", [])),  # adjacent numbers stay apart
        (("AB = 80.5", []), ("AB = 805", [])),
        (("若AB=6，则BC为（　）", ["3", "4"]), ("若AB=6，则BC为（　）", ["3", "5"])),  # choices are part of the key
        (("Find x.", ["2", "4"]), ("Find y.", ["2", "4"])),
    ],
)
def test_normalize_text_different_problems_differ(a, b):
    assert normalize_text(*a) != normalize_text(*b)


def test_number_signature_is_a_multiset_of_canonical_numbers():
    assert number_signature("angle A = 80.0", ["40°"]) == number_signature("∠A=80°", ["40"]) == ("40", "80")
    assert number_signature("", ["3√3", "3", "3√5", "3√2"]) != number_signature("", ["2√3", "2", "2√2", "2√5"])


# --------------------------------------------------------------------------------------------------- image hash


def test_image_hash_survives_reencoding_but_tells_diagrams_apart(heldout):
    image = heldout[0].load_image()
    h = image_hash(image)
    copies = {
        "jpeg": Image.open(io.BytesIO(_encode(image, "JPEG", quality=60))),
        "half size": image.resize((image.width // 2, image.height // 2), Image.Resampling.BILINEAR),
        "1.5x": image.resize((image.width * 3 // 2, image.height * 3 // 2), Image.Resampling.BICUBIC),
        "blur": image.filter(ImageFilter.GaussianBlur(0.8)),
        "border": ImageOps.expand(image, border=15, fill="white"),
        "frame": ImageOps.expand(ImageOps.expand(image, border=5, fill="white"), border=3, fill="black"),
        "darker": image.point(lambda v: int(v * 0.85)),
        "degraded": Image.open(io.BytesIO(_degrade(image))),
    }
    for name, copy in copies.items():
        assert hamming(image_hash(copy), h) <= IMAGE_MAX_DISTANCE, name
    assert image_hash(ImageOps.expand(image, border=15, fill="white")) == h  # margins are trimmed away
    other = next(p for p in heldout if p.metadata["family"] != heldout[0].metadata["family"])
    assert hamming(image_hash(other.load_image()), h) > IMAGE_MAX_DISTANCE
    assert 0 <= h < 2**64


# --------------------------------------------------------------------------------------------------- hash index


@pytest.mark.parametrize("max_distance", [3, 6])
def test_banded_index_finds_what_a_brute_force_scan_finds(max_distance):
    rng = random.Random(max_distance)
    stored = [rng.getrandbits(64) for _ in range(2000)]
    queries = [rng.getrandbits(64) for _ in range(200)]
    for _ in range(400):  # near neighbours at every distance around the limit, so there is something to find
        base = rng.choice(stored)
        for bit in rng.sample(range(64), rng.randint(0, max_distance + 2)):
            base ^= 1 << bit
        queries.append(base)
    index = HashIndex(stored, max_distance=max_distance)
    found = 0
    for q in queries:
        brute = sorted((hamming(q, h), i) for i, h in enumerate(stored) if hamming(q, h) <= max_distance)
        assert [(d, i) for i, d in index.query(q)] == brute
        tighter = [(d, i) for d, i in brute if d <= max_distance - 2]
        assert [(d, i) for i, d in index.query(q, max_distance=max_distance - 2)] == tighter
        found += len(brute)
    assert found >= 200  # about 400 * (max_distance + 1) / (max_distance + 3)


def test_hash_index_edge_cases():
    assert HashIndex([], max_distance=3).query(123) == []
    index = HashIndex([0, 2**64 - 1, 0], max_distance=3)
    assert index.query(0) == [(0, 0), (2, 0)]
    assert index.query(2**64 - 1 - 0b111) == [(1, 3)]
    with pytest.raises(ValueError):
        HashIndex([1], max_distance=64)


# --------------------------------------------------------------------------------------------- matching: GeoSynth


def _unique_text(heldout, informative: bool) -> list[Problem]:
    """Held-out problems whose text key no other held-out problem shares, with (or without) numbers stated."""
    keys = [normalize_text(p.question, p.choices) for p in heldout]
    return [
        p
        for p, key in zip(heldout, keys, strict=True)
        if keys.count(key) == 1 and (p.metadata["variant"] == "text-dominant") == informative
    ]


def test_reworded_copy_with_degraded_diagram_is_caught(heldout, geosynth_index):
    # text-dominant (caught on the text alone) and vision-dominant (text confirmed by the diagram); English and Chinese
    picked = _unique_text(heldout, informative=True)[:3] + _unique_text(heldout, informative=False)[:3]
    assert len(picked) == 6 and {p.language for p in picked} == {"en", "zh"}
    for original in picked:
        copy = _copy(original, question=_reword(original.question), image=_degrade(original.load_image()))
        match = geosynth_index.match(copy)
        assert match is not None, original.id
        assert (match.benchmark, match.id, match.by) == ("geosynth", original.id, "text")
        assert match.distance is not None and match.distance <= IMAGE_MAX_DISTANCE


def test_rewritten_question_is_caught_by_diagram_and_numbers(heldout, geosynth_index):
    original = _unique_text(heldout, informative=True)[0]
    numbers = ", ".join(n for n in number_signature(original.question))
    copy = _copy(original, question=f"Solve it: the data are {numbers}.", image=_degrade(original.load_image()))
    match = geosynth_index.match(copy)
    assert match is not None and match.by == "image"
    # Identical diagrams and numbers: the held-out problem itself or an exact twin of it in the held-out set.
    twin = next(p for p in heldout if p.id == match.id)
    assert twin.id == original.id or generator_signature(twin) == generator_signature(original)


def test_same_diagram_other_numbers_or_same_words_other_diagram_is_no_match(heldout, geosynth_index):
    original = _unique_text(heldout, informative=True)[0]
    value = original.metadata["givens"][0]["value"]
    other_value = value.replace(value.rstrip("°"), str(int(float(value.rstrip("°"))) + 1), 1)
    changed = original.question.replace(value, other_value)
    assert changed != original.question
    # the very same diagram, another given value: another problem
    assert geosynth_index.match(_copy(original, question=changed)) is None
    # a vision-dominant question, word for word, choices and answer too, over another diagram: another problem
    vision = _unique_text(heldout, informative=False)[0]
    other = next(p for p in heldout if p.metadata["family"] != vision.metadata["family"])
    assert geosynth_index.match(_copy(vision, image=other.image)) is None
    assert geosynth_index.match(_copy(vision)) is not None  # with its own diagram it is one


def test_geosynth_train_vs_heldout_drops_only_true_duplicates(heldout, geosynth_index):
    """GeoSynth's problem space is small: different seeds repeat held-out problems (44 % of 3,000 training problems
    share a held-out signature). Every drop must be such a duplicate, or the same question, choices and answer; and
    every training problem that shares a signature must be dropped."""
    train = generate(300, base_seed=0, language="mixed")
    kept, dropped = decontaminate(train, geosynth_index)
    assert len(kept) + len(dropped) == len(train)
    by_id = {p.id: p for p in [*train, *heldout]}
    heldout_signatures = {generator_signature(p) for p in heldout}
    for record in dropped:
        t, e = by_id[record["id"]], by_id[record["matched_id"]]
        same_text = normalize_text(t.question, t.choices) == normalize_text(e.question, e.choices)
        assert generator_signature(t) == generator_signature(e) or (same_text and t.answer == e.answer), record
    assert {p.id for p in kept}.isdisjoint(p.id for p in train if generator_signature(p) in heldout_signatures)
    # measured: 144 dropped (141 signature, 3 text), none false
    assert 100 <= len(dropped) <= 200
    assert {r["by"] for r in dropped} <= {"signature", "text", "image"}


def test_planted_copy_is_dropped_with_benchmark_and_id(heldout, geosynth_index):
    target = _unique_text(heldout, informative=True)[1]
    planted = _copy(target, id="planted", question=_reword(target.question), image=_degrade(target.load_image()))
    unrelated = Problem(
        id="own", source="mine", question="In a square of side 3, find the diagonal.", choices=["3√2", "6"],
        answer_letter="A", answer_type="choice",
    )  # fmt: skip
    kept, dropped = decontaminate([unrelated, planted], geosynth_index)
    assert [p.id for p in kept] == ["own"]
    assert dropped == [
        {
            "id": "planted",
            "source": "scraped",
            "matched_benchmark": "geosynth",
            "matched_id": target.id,
            "by": "text",
            "distance": dropped[0]["distance"],
        }
    ]
    assert isinstance(dropped[0]["distance"], int)
    json.dumps(dropped)
    # with its metadata the generator signature names it first
    assert geosynth_index.match(dataclasses.replace(target, id="again")).by == "signature"


def test_unreadable_training_image_is_counted_and_the_text_still_checked(heldout):
    index = EvalIndex.from_problems({"geosynth": heldout[:50]})
    target = _unique_text(heldout[:50], informative=True)[0]
    broken = _copy(target, image=b"\x89PNG\r\n\x1a\n truncated")
    missing = _copy(target, id="missing", image="/nonexistent/diagram.png")
    kept, dropped = decontaminate([broken, missing, _copy(target, id="no image", image=None)], index)
    assert kept == [] and [r["by"] for r in dropped] == ["text"] * 3
    assert all(r["distance"] is None for r in dropped)
    summary = decontamination_summary(dropped, 3, index)
    assert summary["training_images"]["unreadable"] == 2 and len(summary["training_images"]["first_errors"]) == 2
    assert summary["by_kind"] == {"text": 3} and summary["by_benchmark"] == {"geosynth": 3}


def test_summary_counts_by_benchmark_and_kind():
    dropped = [
        {"id": "1", "source": "s", "matched_benchmark": "geoqa", "matched_id": "7", "by": "text", "distance": None},
        {"id": "2", "source": "s", "matched_benchmark": "mathverse", "matched_id": "9", "by": "image", "distance": 2},
        {"id": "3", "source": "s", "matched_benchmark": "geoqa", "matched_id": "8", "by": "image", "distance": 0},
    ]
    summary = decontamination_summary(dropped, 10)
    assert summary["total"] == 10 and summary["dropped"] == 3 and summary["kept"] == 7
    assert summary["dropped_fraction"] == 0.3
    assert summary["by_benchmark"] == {"geoqa": 2, "mathverse": 1}
    assert summary["by_kind"] == {"text": 1, "image": 2}
    assert summary["by_benchmark_and_kind"] == {"geoqa": {"image": 1, "text": 1}, "mathverse": {"image": 1}}
    json.dumps(summary)
    assert decontamination_summary([], 0)["dropped_fraction"] == 0.0


def test_from_benchmarks_skips_missing_data_and_counts_what_it_indexed(tmp_path):
    index = EvalIndex.from_benchmarks(
        ["geoqa", "geosynth"], IssueLog(), data={"geoqa": str(tmp_path / "nothing"), "geosynth": "geosynth:eval:12"}
    )
    assert list(index.skipped) == ["geoqa"]
    assert index.counts == {
        "geosynth": {
            "problems": 12, "texts": 12, "informative_texts": index.counts["geosynth"]["informative_texts"],
            "images": 12, "image_errors": 0, "signatures": 12,
        }
    }  # fmt: skip
    assert 0 < index.counts["geosynth"]["informative_texts"] < 12
    assert decontamination_summary([], 0, index)["skipped_benchmarks"] == {"geoqa": index.skipped["geoqa"]}


def test_text_only_eval_data_matches_informative_text_only():
    """GeoQA / Geometry3K as bundled have no images: their problems are indexed by text, and a stock question
    ("Find x.") cannot match without a diagram to confirm it."""
    geoqa = Problem(
        id="0", source="geoqa", question="As shown in the figure, angle A = 80.0, angle B = 60.0, then angle C is ()",
        choices=["40°", "60°"], answer_letter="A", answer_type="choice", image="/nonexistent/0.png",
    )  # fmt: skip
    g3k = Problem(id="2401", source="geometry3k", question="Find x.", answer="4", image="/nonexistent/2401.png")
    index = EvalIndex.from_problems({"geoqa": [geoqa], "geometry3k": [g3k]})
    assert index.counts["geoqa"]["image_errors"] == 1 and index.counts["geoqa"]["informative_texts"] == 1
    copy = _copy(geoqa, question="∠A=80°, ∠B=60°, then ∠C is（　）", choices=["60°", "40°"], answer_letter="B")
    assert index.match(copy).id == "0"
    wrong_gold = _copy(geoqa, answer_letter="B", answer="60°")  # same words, other answer: not the same problem
    assert index.match(wrong_gold) is None
    assert index.match(_copy(g3k)) is None


# -------------------------------------------------------------------------------------------- matching: MathVerse


def test_mathverse_diagram_copy_is_caught_by_image(mathverse):
    # 150 of the 726 records, Vision Only ones (which come last) included: decoding all 604 diagrams takes 3-5 s.
    def version(name):
        return [p for p in mathverse if p.metadata.get("problem_version") == name]

    sample = mathverse[:120] + version("Vision Dominant")[:15] + version("Vision Only")[:15]
    index = EvalIndex.from_problems({"mathverse": sample})
    with_image = [p for p in sample if p.image]
    assert index.counts["mathverse"]["images"] + index.counts["mathverse"]["image_errors"] == len(with_image)
    assert index.counts["mathverse"]["image_errors"] == ("99" in {p.id for p in sample})  # 99.png is missing
    mathverse = sample
    by_id = {p.id: p for p in mathverse}
    # Vision Only: the question is inside the diagram, so the diagram alone (very close) is enough
    vision_only = [p for p in mathverse if p.metadata.get("problem_version") == "Vision Only" and p.image][:3]
    # Text Dominant: the question rewritten beyond normalization, numbers kept, the diagram degraded
    text_dominant = [
        p for p in mathverse if p.metadata.get("problem_version") == "Text Dominant" and number_signature(p.question)
    ][:3]
    assert len(vision_only) == 3 and len(text_dominant) == 3
    for original in vision_only + text_dominant:
        image = original.load_image()
        if original in vision_only:
            question = "Answer the question in the figure."
            diagram = _encode(image.resize((image.width * 3 // 2, image.height * 3 // 2), Image.Resampling.BICUBIC))
        else:
            question = "Given " + ", ".join(number_signature(original.question)) + ": solve."
            diagram = _encode(ImageOps.expand(image, border=12, fill="white"), "JPEG", quality=80)
        match = index.match(_copy(original, question=question, image=diagram))
        assert match is not None and (match.benchmark, match.by) == ("mathverse", "image"), original.id
        # MathVerse shows one problem in several versions over (nearly) one diagram: any of them is a right match
        matched = by_id[match.id]
        assert match.id == original.id or hamming(image_hash(matched.load_image()), image_hash(image)) <= 4
    # and a GeoSynth diagram with MathVerse-like text matches nothing there
    stranger = generate(1, base_seed=5)[0]
    assert index.match(_copy(stranger, question="Answer the question in the figure.")) is None
