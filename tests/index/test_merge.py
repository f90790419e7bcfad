"""``merge_answers``: one ranking from several collections' answers."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from index import Answer, Citation, Passage, merge_answers


def passage(text: str, similarity: float, score: float = 1.0) -> Passage:
    return Passage(text, text, Citation("d.txt", None, 1, 0, len(text)), score, (0, len(text)),
                   similarity)


def test_each_collection_keeps_its_own_order_and_heads_compare_by_similarity():
    # Within "a" the fused ranking put a lower-similarity passage first: it stays first.
    a = Answer("q", (passage("a1", 0.50), passage("a2", 0.70), passage("a3", 0.20)))
    b = Answer("q", (passage("b1", 0.60), passage("b2", 0.10)))
    merged = merge_answers("q", [("a", a), ("b", b)], k=5)
    assert [p.text for p in merged.passages] == ["b1", "a1", "a2", "a3", "b2"]
    assert [p.collection for p in merged.passages] == ["b", "a", "a", "a", "b"]


def test_a_collection_that_found_an_answer_comes_before_one_that_did_not():
    found = Answer("q", (passage("f1", 0.35),), found=True)
    missing = Answer("q", (passage("m1", 0.29),), found=False)
    merged = merge_answers("q", [("m", missing), ("f", found)], k=2)
    assert [p.text for p in merged.passages] == ["f1", "m1"]
    assert merged.found
    nowhere = merge_answers("q", [("m", missing), ("n", missing)], k=2)
    assert not nowhere.found


def test_the_same_text_in_two_collections_is_shown_once_and_notices_once():
    a = Answer("q", (passage("same", 0.9),), notices=("shortened",))
    b = Answer("q", (passage("same", 0.9), passage("other", 0.5)), notices=("shortened",))
    merged = merge_answers("q", [("a", a), ("b", b)], k=3)
    assert [(p.text, p.collection) for p in merged.passages] == [("same", "a"), ("other", "b")]
    assert merged.notices == ("shortened",)


similarities = st.lists(st.floats(0, 1, allow_nan=False), max_size=12)


@given(st.lists(similarities, min_size=1, max_size=4), st.integers(1, 5))
def test_pages_follow_each_other_without_gaps_or_repeats(lists, k):
    answers = [
        (f"c{i}", Answer("q", tuple(passage(f"c{i}-{j}", s) for j, s in enumerate(values))))
        for i, values in enumerate(lists)
    ]
    everything = merge_answers("q", answers, k=sum(map(len, lists)) or 1).passages
    pages = []
    for offset in range(0, len(everything) + k, k):
        pages.extend(merge_answers("q", answers, k=k, offset=offset).passages)
    assert pages == list(everything)
    assert len({p.text for p in everything}) == sum(map(len, lists))
    for name, _ in answers:  # every collection's own order is kept
        own = [p.text for p in everything if p.collection == name]
        assert own == sorted(own, key=lambda text: int(text.split("-")[1]))



def test_weak_is_judged_against_the_best_passage_above_it_in_every_collection():
    from index.answer import WEAK_SHARE

    low = WEAK_SHARE * 0.9 - 0.05  # weak below 0.9, not below itself
    a = Answer("q", (passage("a1", low), passage("a2", low - 0.01)))
    b = Answer("q", (passage("b1", 0.9),))
    assert [p.weak for p in merge_answers("q", [("a", a)], k=2).passages] == [False, False]
    merged = merge_answers("q", [("a", a), ("b", b)], k=3)
    assert [(p.text, p.weak) for p in merged.passages] == [
        ("b1", False), ("a1", True), ("a2", True)
    ]
    page_two = merge_answers("q", [("a", a), ("b", b)], k=2, offset=1)
    assert [(p.text, p.weak) for p in page_two.passages] == [("a1", True), ("a2", True)]
    # A mark made within one collection does not survive a merge whose best is close to it.
    marked = Answer("q", (replace(passage("c2", 0.5), weak=True),))
    close = Answer("q", (passage("d1", 0.55),))
    merged = merge_answers("q", [("d", close), ("c", marked)], k=2)
    assert [(p.text, p.weak) for p in merged.passages] == [("d1", False), ("c2", False)]
