"""GPU binding: each concurrent job claims a different GPU through lock files; CPU-only runs are untouched."""

import multiprocessing
import os
import time

import pytest

from vidseg.gpu import bind_gpu, claim_slot, visible_ids


def _claim_and_hold(ids, lock_dir, hold_s, out):
    index = claim_slot(ids, lock_dir, poll_s=0.05)
    out.put((os.getpid(), index))
    time.sleep(hold_s)


def test_concurrent_jobs_claim_different_gpus_and_a_kill_frees_one(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    ids = ["0", "1", "2"]
    holders = [ctx.Process(target=_claim_and_hold, args=(ids, tmp_path, 60, out)) for _ in ids]
    for p in holders:
        p.start()
    claimed = dict(out.get(timeout=60) for _ in holders)  # pid -> GPU index
    assert sorted(claimed.values()) == [0, 1, 2]
    # a fourth job waits until one holder dies (even by SIGKILL), then gets that GPU
    waiter = ctx.Process(target=_claim_and_hold, args=(ids, tmp_path, 0, out))
    waiter.start()
    time.sleep(1.0)
    assert out.empty()
    holders[1].kill()
    holders[1].join()
    pid, index = out.get(timeout=30)
    waiter.join(timeout=30)
    for p in holders:
        p.kill()
        p.join()
    assert pid == waiter.pid and index == claimed[holders[1].pid]  # the GPU the killed job held


def test_claim_gives_up_after_the_wait(tmp_path):
    claim_slot(["7"], tmp_path)
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        with pytest.raises(TimeoutError, match=r"no free GPU among \['7'\]"):
            pool.apply(claim_slot, (["7"], tmp_path, 0.3, 0.05))


def test_gpu_ids_follow_cuda_visible_devices(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,5")
    assert visible_ids(2) == ["2", "5"]
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    assert visible_ids(3) == ["0", "1", "2"]


def test_cpu_only_machine_binds_nothing(tmp_path):
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        pytest.skip("this machine has a GPU; the CPU-only path is what this test checks")
    assert bind_gpu(tmp_path / "locks") is None
    assert not (tmp_path / "locks").exists()
