"""GPU binding: each concurrent job claims a different GPU through lock files; CPU-only runs are untouched."""

import multiprocessing
import os
import time

import pytest

from vidseg.inference.gpu import bind_gpu, claim_slot, host_has_gpu, segment_on_gpu, visible_ids


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
    assert bind_gpu(tmp_path / "locks") is None and bind_gpu(tmp_path / "locks", device="cpu") is None
    assert not (tmp_path / "locks").exists()


def test_segment_device_auto_follows_the_driver_list(tmp_path, monkeypatch):
    """segment.device auto: a GPU where the NVIDIA driver lists one (and CUDA_VISIBLE_DEVICES does not hide it)."""
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    driver = tmp_path / "gpus"
    assert not host_has_gpu(driver)  # no driver
    driver.mkdir()
    assert not host_has_gpu(driver)  # a driver without GPUs
    (driver / "0000:3b:00.0").mkdir()
    assert host_has_gpu(driver) and segment_on_gpu("auto", driver)
    for hidden in ("", "-1"):
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", hidden)
        assert not segment_on_gpu("auto", driver)
    assert segment_on_gpu("gpu", tmp_path / "none") and not segment_on_gpu("cpu", driver)
