"""Packing short videos into segment jobs (vidseg.workflow.packs)."""

import random

from vidseg.workflow.packs import plan_packs


def clips(n, seed=0, low=20, high=200):
    rng = random.Random(seed)
    return {f"clip_{i:04d}_{rng.randrange(10**6):06d}": rng.randint(low, high) for i in range(n)}


def test_every_short_video_in_exactly_one_pack_of_at_most_a_chunk():
    frames = {**clips(300), "long_a": 5000, "edge": 1800}
    packs = plan_packs(frames, 1800)
    packed = [v for p in packs for v in p.videos]
    assert sorted(packed) == sorted(v for v, n in frames.items() if n < 1800)
    assert all(p.frames == sum(frames[v] for v in p.videos) <= 1800 for p in packs)
    assert all(p.name == p.videos[0] for p in packs) and len({p.name for p in packs}) == len(packs)
    total = sum(n for n in frames.values() if n < 1800)
    assert len(packs) <= 2 * total / 1800  # about a chunk of frames per stretch of the sequence
    assert plan_packs(dict(reversed(list(frames.items()))), 1800) == packs  # the order given does not matter


def test_adding_a_video_changes_the_pack_it_joins_and_seldom_another():
    """New videos whose ids fall all over the sequence: each changes the pack it joins, and only where its
    stretch of the sequence is longer than a chunk the packs after it in that stretch."""
    frames = clips(400, seed=1)
    before = {p.videos for p in plan_packs(frames, 1800)}
    changed = []
    for extra in range(40):
        new = f"clip_{(extra * 7919) % 400:04d}_new"  # between existing ids
        after = {p.videos for p in plan_packs({**frames, new: 60}, 1800)}
        assert sum(new in videos for videos in after) == 1
        changed.append(len(after - before))
    assert max(changed) <= 4 and sum(changed) / len(changed) <= 1.5, changed
    assert len(before) >= 15


def test_groups_never_share_a_pack():
    frames = clips(40)
    group = {v: "evaluated" if i % 3 == 0 else "" for i, v in enumerate(sorted(frames))}
    for pack in plan_packs(frames, 1800, group):
        assert len({group[v] for v in pack.videos}) == 1
