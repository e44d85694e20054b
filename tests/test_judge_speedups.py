"""The judge's faster routes give what the plain ones give: each shortcut against the search it stands for, on random
text built from the pieces the patterns look for (the judge's answers must never change with its speed)."""

import random
import re

import redstar_geo.judge as J

PIECES = [
    *("if ", "If", " suppose", "assuming", "in that case", "In\tthat case", "Alternatively", "otherwise", "were"),
    *("so", "Therefore", ", ", "thus ", "the ", "answer", " is ", " are", "would be", "must be", "should  be"),
    *("the  correct ", "right ", "final", "only ", ".", "。", "!", "?", "\n", ";", ":", "，", "=", "C", "(C)", "x"),
    *("wif", "ifs", " ", "\t", "*", "I", "İ", "K", "K", "ſ", "option", "Option", "choose", "choos", "select"),
    *("chooselect", "pick", "go with", "Go With", "选", "答", "选项", "答案", "\\boxed{", "}", "Question", "Hint"),
    *("问题", "问", "题目", "Q", "H", "Hi", "Hmm", "> ", "# ", "User", "user\n", "<|im_start|>", "Here's", "similar"),
    *("problem", "Try", "another", "question", "1", "2:", "：", "Practice problem", "Follow-up question"),
]


def _texts(seed: int, count: int, longest: int = 40):
    rng = random.Random(seed)
    for _ in range(count):
        yield "".join(rng.choice(PIECES) for _ in range(rng.randint(0, longest)))


def _span(match: re.Match | None):
    return match and (match.span(), match.groupdict())


def test_search_to_the_end_finds_the_match_of_the_whole_window():
    rng = random.Random(0)
    found = 0
    for text in _texts(1, 4000):
        for _ in range(4):
            end = rng.randint(0, len(text))
            start = max(0, end - rng.choice([10, 80, 160, 1000]))
            for pattern in (J._IS_THE_LEAD, J._CONDITION):
                expected = pattern.search(text, start, end)
                got = J._search_to_end(pattern, text, start, end)
                assert _span(got) == _span(expected), (text, start, end)
                found += expected is not None
    assert found > 1000  # both outcomes are well tested


def test_a_trigger_after_a_position_is_one_the_trigger_walk_finds():
    rng = random.Random(2)
    for text in _texts(3, 3000):
        positions = [position for position, _ in J._triggers(text)]
        for start in {0, len(text) // 2, rng.randint(0, len(text)), len(text)}:
            assert J._trigger_after(text, start) == any(position > start for position in positions), (text, start)


def test_contains_is_a_substring_search():
    for text in _texts(4, 3000, longest=60):
        for word in ("Question", "Hint", "问题", "Hmm"):
            assert J._contains(text, word) == (word in text), (text, word)


def test_invented_question_pattern_finds_what_it_found_without_its_first_character_lookahead():
    lookahead = "(?=[QPHUIEFTuh<问题练例])"
    assert lookahead in J._INVENTED.pattern
    plain = re.compile(J._INVENTED.pattern.replace(lookahead, ""))
    for text in _texts(5, 6000, longest=25):
        assert [m.span() for m in J._INVENTED.finditer(text)] == [m.span() for m in plain.finditer(text)], text


def test_answers_read_twice_are_read_alike():
    # The remembered readings (_clean_candidate, _clean_answer, values_equal) answer as a first reading does.
    for text in _texts(6, 1500):
        for method in ("answer_label", "zh_answer", "is_the_answer", "boxed", "answer_tag"):
            first = J._clean_candidate(text, method)
            J._clean_candidate.cache_clear()
            J._clean_answer.cache_clear()
            assert J._clean_candidate(text, method) == first
        assert J.values_equal(text, "40°") == J.values_equal.__wrapped__(text, "40°")
