"""Packing short videos into segment jobs (vidseg.packs)."""

import random

from vidseg.packs import plan_packs


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
    sizes = sorted(p.frames for p in packs)
    assert sizes[len(sizes) // 2] >= 900  # packs are large: most hold half a chunk or more
    assert plan_packs(dict(reversed(list(frames.items()))), 1800) == packs  # the order given does not matter


def test_adding_a_video_changes_the_pack_it_joins_and_few_others():
    frames = clips(400, seed=1)
    before = {p.videos for p in plan_packs(frames, 1800)}
    changed = []
    for extra in range(20):
        grown = {**frames, f"clip_new_{extra:02d}": 60}
        after = {p.videos for p in plan_packs(grown, 1800)}
        changed.append(len(after - before))
    assert max(changed) <= 2 and sum(changed) / len(changed) <= 1.5, changed
    assert len(before) >= 15


def test_groups_never_share_a_pack():
    frames = clips(40)
    group = {v: "evaluated" if i % 3 == 0 else "" for i, v in enumerate(sorted(frames))}
    for pack in plan_packs(frames, 1800, group):
        assert len({group[v] for v in pack.videos}) == 1
