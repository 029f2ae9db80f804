"""The workflow on remote storage, for real: an S3 API server on loopback (moto's server mode), Snakemake's S3 storage
plugin, videos read from the bucket and every result written there.

The run is short clips packed into shared segment jobs and one long video in chunks (units of work); its tables,
read back from the bucket, are compared with a local run of the same videos in a single segment job (every video
in one pack, the long one whole). A second run with one video changed and one added reruns only the units they are
in, their videos' jobs and the dataset-wide ones.
"""

import logging
import shutil
import time

import pandas as pd
import pytest

from conftest import seeded_model
from flow import MODEL, run_raw, run_watched, snakemake_args, write_config
from media import CLIPS, make_clips, make_video
from vidseg.workflow.plan import LOGS, PATHS, plot_paths
from vidseg.workflow.units import plan_units

boto3 = pytest.importorskip("boto3")  # test extra: moto[server] (boto3 with it), snakemake-storage-plugin-s3
from moto.server import ThreadedMotoServer  # noqa: E402

BUCKET, PREFIX = "vidseg-test", "run"
CHUNK = 32  # the 40-frame video in two chunks; the clips in packs of up to 32 frames
LOCAL_CHUNK = 1800  # the local run's: every video in one pack
KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}  # moto takes any


@pytest.fixture(scope="module")
def s3():
    """A moto S3 server on 127.0.0.1 with an empty bucket: its endpoint URL and a boto3 client."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **KEYS)
    client.create_bucket(Bucket=BUCKET)
    yield endpoint, client
    server.stop()


def s3_run(endpoint, work, *extra):
    """The workflow on `work` (its config.yaml) with the bucket as default storage; its output."""
    args = snakemake_args(work, "--resources", "gpu=1", *extra, "--default-storage-provider", "s3",
                          "--default-storage-prefix", f"s3://{BUCKET}/{PREFIX}", f"--storage-s3-endpoint-url={endpoint}",
                          f"--storage-s3-access-key={KEYS['aws_access_key_id']}",
                          f"--storage-s3-secret-key={KEYS['aws_secret_access_key']}", cores=2)
    proc = run_watched(args, work)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return proc.stdout + proc.stderr


def objects(client):
    """Key (under the prefix) -> last modified, of every object in the bucket."""
    found = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        found.update({o["Key"].removeprefix(f"{PREFIX}/"): o["LastModified"] for o in page.get("Contents", [])})
    return found


def upload(client, path, name):
    client.upload_file(str(path), BUCKET, f"{PREFIX}/videos/{name}.mp4")


def download(client, keys, into):
    for key in keys:
        (into / key).parent.mkdir(parents=True, exist_ok=True)
        client.download_file(BUCKET, f"{PREFIX}/{key}", str(into / key))


def sheet(work, videos):
    """The run's sample sheet: a video's path relative to it is its place under the storage prefix."""
    (work / "videos.tsv").write_text("video_id\tpath\n" + "".join(f"{v}\tvideos/{v}.mp4\n" for v in videos))


@pytest.fixture(scope="module")
def stored(s3, tmp_path_factory):
    """Clips and a long video in the bucket, run with packing on S3 (work folder, the frame counts)."""
    endpoint, client = s3
    work = tmp_path_factory.mktemp("s3work")
    frames = make_clips(work / "upload")
    for name in frames:
        upload(client, work / "upload" / f"{name}.mp4", name)
    shutil.rmtree(work / "upload")  # the videos are in the bucket only
    seeded_model(0, **{k: v for k, v in MODEL.items() if k != "name"}).save_weights(work / "weights.h5")
    write_config(work, {"videos": "videos.tsv", "segment": {"chunk_size": CHUNK}, "frames": {"keep": False}})
    sheet(work, frames)
    s3_run(endpoint, work)
    return work, frames


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    """The same videos run locally in one segment job (one pack of every video, the long one whole: other units
    and other batches than the S3 run's), as far as the tables."""
    root = tmp_path_factory.mktemp("local")
    frames = make_clips(root / "videos")
    seeded_model(0, **{k: v for k, v in MODEL.items() if k != "name"}).save_weights(root / "weights.h5")
    write_config(root, {"segment": {"chunk_size": LOCAL_CHUNK}})
    proc = run_raw(root, *(PATHS["detections"].format(video=video) for video in frames), cores=2)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return root


def results_of(frames, units, probes=True):
    """The files a finished run stores per video (exports on; `probes`: with the probe's), per unit, and once."""
    per_video = [PATHS[k] for k in ("probe", "frame_index", "detections", "frames_table", "tracks", "annotated",
                                    "coco_export", "mots_export") if probes or k != "probe"]
    per_video += list(plot_paths(PATHS["plots"]).values())
    per_unit = [f"{PATHS['segment']}/{{video}}.detections.parquet", f"{PATHS['segment']}/{{video}}.frames.parquet",
                LOGS["segment"], PATHS["segment_benchmark"]]
    return ({p.format(video=v) for v in frames for p in per_video}
            | {p.format(unit=u.name, video=v) for u in units for v in u.videos for p in per_unit}
            | {PATHS["summary"], PATHS["evaluation_summary"], PATHS["status"]})


def test_a_run_on_s3_reads_the_bucket_and_writes_every_result_there(s3, stored):
    endpoint, client = s3
    work, frames = stored
    units = plan_units(frames, CHUNK)
    assert any(len(u.videos) >= 3 for u in units) and {"long.0000", "long.0001"} <= {u.name for u in units}
    keys = set(objects(client))
    assert results_of(frames, units) <= keys, sorted(results_of(frames, units) - keys)
    assert not [k for k in keys if k.startswith(PATHS["frames"].split("{")[0])]  # temp frames: gone after use
    assert {LOGS[rule].format(video=v) for v in frames for rule in ("frames", "track", "annotate")} <= keys
    # on this machine: the plan of units (only the Snakefile reads it) and the status table it also stored
    assert sorted(p.relative_to(work).as_posix() for p in (work / "results").rglob("*")) == [PATHS["status"],
                                                                                             PATHS["units"]]
    assert not (work / "logs").exists() and not [k for k in keys if k.startswith("results/report/")]
    download(client, [PATHS["status"]], work / "bucket")
    status = pd.read_csv(work / "bucket" / PATHS["status"], sep="\t")
    assert set(status.stage) == {"done"} and len(status) == len(frames)
    assert (work / "bucket" / PATHS["status"]).read_text() == (work / PATHS["status"]).read_text()
    # Snakemake itself sees every file of every job (all declared): its summary lists each one as up to date
    listed = {line.split("\t")[0].removeprefix(f"s3://{BUCKET}/{PREFIX}/"): line.split("\t")
              for line in s3_run(endpoint, work, "--summary").splitlines() if line.startswith("s3://")}
    made = {p for p in results_of(frames, units) if not p.startswith(("logs/", "results/benchmarks/"))}
    made = {p if "/units/" not in p else p.rsplit("/", 1)[0] for p in made} - {PATHS["status"]}  # a unit: one folder
    assert made <= set(listed), sorted(made - set(listed))
    assert {row[4] for path, row in listed.items() if path in made} == {"ok"}


def test_tables_from_the_bucket_equal_a_local_run_in_one_job(s3, stored, local, tmp_path):
    """Packing, chunking and storage change no table; the README's queries work on the tables as the bucket holds
    them."""
    _, client = s3
    download(client, [k for k in objects(client) if k.startswith(("results/detections/", "results/frames/",
                                                                   "results/tracks/"))], tmp_path)
    for kind, keys in (("detections", ["video_id", "frame", "instance"]), ("frames", ["video_id", "frame"]),
                       ("tracks", ["video_id", "track_id"])):
        got, want = (pd.read_parquet(root / "results" / kind) for root in (tmp_path, local))
        got, want = (t.assign(video_id=t.video_id.astype(str)).sort_values(keys).reset_index(drop=True)
                     for t in (got, want))
        pd.testing.assert_frame_equal(got, want)
    assert len(pd.read_parquet(tmp_path / "results/detections")) > 0
    (unit,) = (local / "results/units").iterdir()  # one segment job for every video
    assert sorted(p.name.split(".")[0] for p in unit.glob("*.detections.parquet")) == sorted([*CLIPS, "long"])


def test_a_changed_and_a_new_video_rerun_only_their_units(s3, stored):
    endpoint, client = s3
    work, frames = stored
    rerun = s3_run(endpoint, work)
    assert "Nothing to be done" in rerun, rerun[-6000:]
    before = objects(client)
    time.sleep(1.1)  # S3's modification times are in whole seconds
    make_video(work / "new" / "clip_c.mp4", seconds=1.2, source="testsrc")  # the same length, other pictures
    make_video(work / "new" / "clip_bb.mp4", seconds=0.6)
    for name in ("clip_c", "clip_bb"):
        upload(client, work / "new" / f"{name}.mp4", name)
    grown = {**frames, "clip_bb": 6}
    sheet(work, grown)
    s3_run(endpoint, work)
    after = objects(client)
    changed = {k for k in after if before.get(k) != after[k]}
    redone = [u for u in plan_units(grown, CHUNK) if {"clip_c", "clip_bb"} & set(u.videos)]
    videos = {v for u in redone for v in u.videos}
    assert videos < set(grown)  # some videos are in other units
    # the units' other videos are decoded again (their frames were temporary), not probed again
    expected = (results_of(videos, redone, probes=False)
                | {f"{path}/{v}.{ext}" for v in ("clip_c", "clip_bb") for path, ext in (("videos", "mp4"),
                                                                                      ("results/probe", "json"))})
    assert expected <= changed, sorted(expected - changed)
    others = {k for k in changed - expected if not k.startswith("logs/") and not k.endswith("/.snakemake_timestamp")}
    assert others == set(), sorted(others)  # no other unit's or video's result was redone
    kept = results_of(set(grown) - videos, [u for u in plan_units(grown, CHUNK) if u not in redone])
    assert not kept & changed - {PATHS["summary"], PATHS["evaluation_summary"], PATHS["status"]}
