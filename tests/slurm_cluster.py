"""A real one-node Slurm cluster for tests: munged, slurmctld and slurmd started as root in a temporary folder.

Debian's slurm-wlm and munge packages (installed by .ci/run). Everything the daemons write lives under the
folder; the clients find the cluster through SLURM_CONF and munge through AuthInfo's socket path. The node
declares one GPU as a generic resource backed by /dev/null (Slurm drops GPUs without a device file), so jobs
that ask for a GPU are scheduled like on a GPU node; no GPU is used. Accounting is off, so job states come
from squeue, and MinJobAge keeps finished jobs visible to it for ten minutes.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sbatch", "squeue", "scontrol", "srun", "sinfo", "scancel")


def missing_requirements() -> str | None:
    """Why a cluster cannot be started here, or None."""
    if os.geteuid() != 0:
        return "needs root to run slurmd and munged"
    absent = [tool for tool in (*DAEMONS, *CLIENTS) if not shutil.which(tool) and not Path("/usr/sbin", tool).exists()]
    if absent:
        return f"Slurm/munge not installed ({', '.join(absent)} missing): apt-get install slurm-wlm munge"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _daemon(name: str) -> str:
    return shutil.which(name) or str(Path("/usr/sbin", name))


@dataclass
class Cluster:
    """Start with `start()`, always `stop()`: the daemons outlive the process that started them."""

    root: Path
    node: str = field(default_factory=lambda: socket.gethostname().split(".")[0])

    @property
    def conf(self) -> Path:
        return self.root / "slurm.conf"

    @property
    def env(self) -> dict[str, str]:
        """Environment for Slurm clients (and Snakemake) that talk to this cluster.

        The Slurm executor's job step drops SLURM_* variables before it calls srun inside the job, so
        bin/ holds an srun that sets SLURM_CONF again (a real cluster keeps its config at /etc/slurm).
        """
        return {**os.environ, "SLURM_CONF": str(self.conf), "PATH": f"{self.root / 'bin'}:{os.environ['PATH']}"}

    def run(self, *args: str, check: bool = True) -> str:
        proc = subprocess.run(args, env=self.env, capture_output=True, text=True, timeout=60)
        if check and proc.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed: {proc.stderr.strip()}")
        return proc.stdout

    def write_config(self) -> None:
        root = self.root
        for sub in ("munge", "state", "spool", "bin", "logs"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        (root / "munge").chmod(0o755)
        key = root / "munge" / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        self.conf.write_text("\n".join([
            "ClusterName=vidsegtest",
            f"SlurmctldHost={self.node}(127.0.0.1)",
            f"SlurmctldPort={_free_port()}",
            f"SlurmdPort={_free_port()}",
            "SlurmUser=root",
            "SlurmdUser=root",
            "AuthType=auth/munge",
            "CredType=cred/munge",
            f"AuthInfo=socket={root / 'munge' / 'munge.socket'}",
            f"StateSaveLocation={root / 'state'}",
            f"SlurmdSpoolDir={root / 'spool'}",
            f"SlurmctldPidFile={root / 'slurmctld.pid'}",
            f"SlurmdPidFile={root / 'slurmd.pid'}",
            f"SlurmctldLogFile={root / 'logs' / 'slurmctld.log'}",
            f"SlurmdLogFile={root / 'logs' / 'slurmd.log'}",
            f"PlugStackConfig={root / 'plugstack.conf'}",
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "MpiDefault=none",
            "SwitchType=switch/none",
            "SchedulerType=sched/backfill",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_Core",
            "GresTypes=gpu",
            "AccountingStorageType=accounting_storage/none",
            "JobAcctGatherType=jobacct_gather/none",
            "JobCompType=jobcomp/none",
            "MinJobAge=600",
            "ReturnToService=2",
            # the node as the shipped profile expects a GPU node (16 CPUs, 64 GB), whatever this machine has;
            # nothing enforces CPU or memory limits here (no cgroups), so jobs just share the real cores
            "SlurmdParameters=config_overrides",
            f"NodeName={self.node} NodeAddr=127.0.0.1 CPUs=16 RealMemory=64000 Gres=gpu:1 State=UNKNOWN",
            "PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP",
            "",
        ]))
        (root / "gres.conf").write_text(f"NodeName={self.node} Name=gpu Count=1 File=/dev/null\n")
        (root / "plugstack.conf").write_text("")
        srun = root / "bin" / "srun"
        srun.write_text(f'#!/bin/sh\nSLURM_CONF={self.conf} exec {shutil.which("srun")} "$@"\n')
        srun.chmod(0o755)

    def start(self) -> None:
        self.write_config()
        munge = self.root / "munge"
        subprocess.run([_daemon("munged"), "--force", f"--socket={munge / 'munge.socket'}",
                        f"--key-file={munge / 'munge.key'}", f"--pid-file={munge / 'munged.pid'}",
                        f"--log-file={munge / 'munged.log'}", f"--seed-file={munge / 'munged.seed'}"],
                       check=True, env=self.env, capture_output=True)
        subprocess.run([_daemon("slurmctld"), "-f", str(self.conf)], check=True, env=self.env, capture_output=True)
        subprocess.run([_daemon("slurmd"), "-f", str(self.conf), "-N", self.node], check=True, env=self.env,
                       capture_output=True)
        deadline = time.monotonic() + 60
        state = ""
        while time.monotonic() < deadline:
            state = self.run("sinfo", "-h", "-N", "-o", "%T", check=False).strip()
            if state in ("idle", "mixed", "allocated"):
                return
            time.sleep(0.5)
        tails = "\n".join(f"{log.name}: " + " | ".join(log.read_text().splitlines()[-3:])
                          for log in sorted((self.root / "logs").glob("*.log")))
        raise RuntimeError(f"the test Slurm node did not come up (state {state!r}):\n{tails}")

    def jobs(self) -> dict[str, dict[str, str]]:
        """Every job the controller remembers: id -> `scontrol show job` fields."""
        out = self.run("scontrol", "show", "job", "-o", check=False)
        jobs = {}
        for line in out.splitlines():
            fields = dict(item.split("=", 1) for item in line.split() if "=" in item)
            if "JobId" in fields:
                jobs[fields["JobId"]] = fields
        return jobs

    def stop(self) -> None:
        self.run("scancel", "--user", "root", check=False)
        for pid_file in (self.root / "slurmd.pid", self.root / "slurmctld.pid", self.root / "munge" / "munged.pid"):
            try:
                pid = int(pid_file.read_text().split()[0])
            except (OSError, ValueError, IndexError):
                continue
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
            for _ in range(100):
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.1)
            else:
                os.kill(pid, signal.SIGKILL)
