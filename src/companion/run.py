"""The notebook pipeline behind ``make figures``.

For each notebook under ``notebooks/`` (``00_claims`` last): take the profile's parameters,
validate them against the notebook's ``parameters`` cell (path parameters included), skip the
notebook when nothing it depends on changed and its outputs exist, else execute it with papermill
into a staging folder and publish the folder only when the whole notebook succeeded. Only the
runner publishes, and each profile into its own tree (``paths.published_dir``: ``figures/`` for
default, ``build/figures-smoke/``, ``figures-full/``), each with its ``manifest.json`` of every
published file and its provenance. Ctrl-C stops the running notebooks, publishes nothing and keeps
their partial executed notebooks under ``build/partial/<profile>/``.

    python -m companion.run --profile default [--only multiwrite/02_latency] [--jobs 2] [--force]
        [--set NAME=VALUE] [--set jcra_recipe.train.steps=500]
"""

from __future__ import annotations

import argparse
import fcntl
import importlib
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from companion import claims, deps, manifest, params, paths, profiles, progress
from companion.atomic import write_text
from companion.hashing import sha256_file, sha256_files, sha256_json
from companion.nbfile import read_cells, tags

CLAIMS_NOTEBOOK = "00_claims"
EXCLUDED_FOLDERS = {"exercises", ".ipynb_checkpoints"}
HEARTBEAT_SECONDS = 30.0
INTERRUPT_GRACE_SECONDS = 20.0  # papermill saves the partial notebook and stops its kernel
STATE_DIR = ".state"
STAGING_DIR = ".staging"


@dataclass
class Job:
    """One notebook to bring up to date under one profile."""

    name: str
    path: Path
    profile: str
    parameters: dict[str, Any]
    library: list[Path] = field(default_factory=list)
    sections: dict[str, Any] = field(default_factory=dict)  # profile sections its library reads, --set applied
    section_overrides: dict[str, Any] = field(default_factory=dict)  # {"jcra_recipe.train.steps": 500}

    def recorded_parameters(self) -> dict[str, Any]:
        """What the manifest records: the notebook parameters and the profile-section overrides."""
        return {**self.parameters, **self.section_overrides}

    def input_hash(self, figures_root: Path) -> str:
        inputs = {
            "notebook": _notebook_hash(self.path),
            "parameters": self.parameters,
            "library": sha256_files(self.library, paths.REPO_ROOT),
            "data": sha256_files(_data_files(), paths.REPO_ROOT),
        }
        if self.sections:  # a changed training budget re-runs the notebooks that train with it
            inputs["sections"] = self.sections
        if self.name == CLAIMS_NOTEBOOK:
            records = sorted(figures_root.glob(f"*/**/{claims.RECORDS_FILE}"))
            inputs["claim_records"] = {str(p.relative_to(figures_root)): sha256_file(p) for p in records}
        return sha256_json(inputs)


def _notebook_hash(path: Path) -> str:
    """Hash of what a notebook says (cells and tags), ignoring outputs and execution counts."""
    return sha256_json([(c["cell_type"], c["source"], tags(c)) for c in read_cells(path)])


def _data_files() -> list[Path]:
    return sorted(p for p in paths.DATA_DIR.rglob("*") if p.is_file() and paths.PROFILES_DIR not in p.parents)


def notebook_name(path: Path, notebooks_dir: Path | None = None) -> str:
    """``notebooks/jcra/02_train_eval.ipynb`` -> ``jcra/02_train_eval``."""
    return str(path.relative_to(notebooks_dir or paths.NOTEBOOKS_DIR).with_suffix(""))


def discover(notebooks_dir: Path | None = None) -> list[Path]:
    """Every pipeline notebook, the claims scoreboard last."""
    root = notebooks_dir or paths.NOTEBOOKS_DIR
    found = [p for p in sorted(root.rglob("*.ipynb")) if not EXCLUDED_FOLDERS & set(p.relative_to(root).parts)]
    return sorted(found, key=lambda p: (p.stem == CLAIMS_NOTEBOOK, str(p)))


def plan(
    profile: str,
    only: list[str] | None = None,
    notebooks_dir: Path | None = None,
    profiles_dir: Path | None = None,
    overrides: dict | None = None,
) -> list[Job]:
    """Validated jobs for ``profile``; raises ParameterError/ValueError before anything runs.

    ``overrides`` (parameter name to value) replace the profile's values in the ``only`` notebooks,
    e.g. ``{"coco_root": "/data/coco"}`` for ``jcra/02_train_eval``. A dotted name sets a value of a
    profile section (``profiles.SECTIONS``), e.g. ``{"jcra_recipe.train.steps": 500}``, for every
    planned notebook whose library reads that section; it needs no ``only``.
    """
    section_values = {name: value for name, value in (overrides or {}).items() if "." in name}
    overrides = {name: value for name, value in (overrides or {}).items() if "." not in name}
    if overrides and not only:
        raise ValueError("--set needs --only (NOTEBOOK=... with make): say which notebook the values are for")
    notebooks_dir = notebooks_dir or paths.NOTEBOOKS_DIR
    per_notebook = profiles.load(profile, profiles_dir)
    sections = _profile_sections(profile, profiles_dir, section_values)
    notebooks = discover(notebooks_dir)
    names = {notebook_name(p, notebooks_dir) for p in notebooks}
    unknown = sorted(set(per_notebook) - names)
    if unknown:
        raise ValueError(f"profile {profile!r} names notebooks that do not exist: {', '.join(unknown)}")
    if only:
        missing = sorted(set(only) - names)
        if missing:
            raise ValueError(f"--only names unknown notebooks: {', '.join(missing)}; known: {', '.join(sorted(names))}")
    jobs = []
    for path in notebooks:
        name = notebook_name(path, notebooks_dir)
        if only and name not in only:
            continue
        values = {**per_notebook.get(name, {}), **(overrides or {}), "profile": profile}
        params.validate(path, values)
        library = deps.library_files(path)
        read = {section: content for section, content in sections.items() if _reader_file(section) in library}
        set_here = {key: value for key, value in section_values.items() if key.split(".")[0] in read}
        jobs.append(Job(name, path, profile, values, library, read, set_here))
    unread = sorted({key for key in section_values if not any(key in job.section_overrides for job in jobs)})
    if unread:
        raise ValueError(f"--set {', '.join(unread)}: no notebook of this run reads that profile section")
    return jobs


def _reader_file(section: str) -> Path:
    """The library file of the module that reads profile section ``section``."""
    return Path(importlib.util.find_spec(profiles.SECTIONS[section]).origin)


def _profile_sections(profile: str, profiles_dir: Path | None, section_values: dict[str, Any]) -> dict[str, Any]:
    """Every ``profiles.SECTIONS`` section of ``profile`` that it has, with ``section_values`` (dotted
    names) applied and validated by the section's reader module."""
    by_section: dict[str, dict[str, Any]] = {}
    for name, value in section_values.items():
        section, _, key = name.partition(".")
        if section not in profiles.SECTIONS:
            raise ValueError(
                f"--set {name}: {section!r} is not a profile section; --set reaches notebook parameters "
                f"(NAME=VALUE, with --only) and SECTION.KEY=VALUE for SECTION in: {', '.join(profiles.SECTIONS)}"
            )
        by_section.setdefault(section, {})[key] = value
    sections = {}
    for section, module in profiles.SECTIONS.items():
        path, content = profiles.section(profile, section, profiles_dir)
        if section in by_section:
            if not isinstance(content, dict):
                raise ValueError(f"--set {section}.*: {path} has no {section} section to override")
            content = importlib.import_module(module).apply_overrides(content, by_section[section])
        if content is not None:
            sections[section] = content
    return sections


class Interrupted(Exception):
    """Ctrl-C during a run: ``notebooks`` were stopped; nothing of theirs was published."""

    def __init__(self, notebooks: list[str], partials: list[Path]):
        super().__init__(", ".join(notebooks))
        self.notebooks = notebooks
        self.partials = partials

    def line(self) -> str:
        """The one line the command prints."""
        names = ", ".join(self.notebooks) or "between notebooks"
        kept = f" (partial executed notebook: {', '.join(_shown(p) for p in self.partials)})" if self.partials else ""
        return f"interrupted: {names}; nothing published{kept}"


class Runner:
    """Executes jobs, publishes their outputs and keeps the manifest; one per ``make figures``.

    ``executed_dir`` holds the executed notebooks (default: ``paths.executed_dir`` of the profile).
    """

    def __init__(
        self, figures_root: Path, jobs: int = 1, force: bool = False, log=print, executed_dir: Path | None = None
    ):
        self.figures_root = figures_root
        self.executed_dir = executed_dir
        self.jobs = max(1, jobs)
        self.force = force
        self.log = log
        self._lock = threading.Lock()
        self.started = time.monotonic()
        self.ran: list[str] = []
        self.skipped: list[str] = []
        self.failed: list[str] = []
        self._running: dict[str, subprocess.Popen] = {}
        self._interrupted = threading.Event()
        self.partials: dict[str, Path] = {}

    # -- state -------------------------------------------------------------------------------
    def _state_path(self, job: Job) -> Path:
        return self.figures_root / STATE_DIR / f"{job.name.replace('/', '__')}.json"

    def is_up_to_date(self, job: Job, input_hash: str) -> bool:
        state_path = self._state_path(job)
        if self.force or not state_path.exists():
            return False
        state = json.loads(state_path.read_text(encoding="utf-8"))
        if state.get("input_hash") != input_hash:
            return False
        return all((self.figures_root / rel).exists() for rel in state.get("outputs", []))

    # -- execution ---------------------------------------------------------------------------
    def run(self, jobs: list[Job]) -> bool:
        """Bring every job up to date; False when one failed. Raises :class:`Interrupted` on Ctrl-C."""
        self.figures_root.mkdir(parents=True, exist_ok=True)
        started_wall = time.time()
        with open(self.figures_root / ".lock", "w") as lock_file:
            try:
                fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self.log(f"another 'make figures' is writing {self.figures_root}; waiting for it to finish")
                fcntl.flock(lock_file, fcntl.LOCK_EX)
            body = [j for j in jobs if j.name != CLAIMS_NOTEBOOK]
            last = [j for j in jobs if j.name == CLAIMS_NOTEBOOK]
            self._total = len(jobs)
            self._count = 0
            pool = ThreadPoolExecutor(max_workers=self.jobs)
            try:
                # worker threads only: Ctrl-C lands in this (main) thread, which then stops them cleanly
                for group in (body, last):  # the scoreboard (last) reads the others' claim records
                    for future in [pool.submit(self._bring_up_to_date, job) for job in group]:
                        future.result()  # re-raises a worker's error
            except KeyboardInterrupt:
                signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not break the clean-up
                stopped = self._stop_running()
                pool.shutdown(wait=True, cancel_futures=True)
                _remove_empty_folders(paths.BUILD_DIR, since=started_wall)
                raise Interrupted(stopped, [self.partials[n] for n in stopped if n in self.partials]) from None
            pool.shutdown(wait=True)
        if self.failed:
            _remove_empty_folders(paths.BUILD_DIR, since=started_wall)
        elapsed = time.monotonic() - self.started
        self.log(
            f"summary: {len(self.ran)} notebooks run, {len(self.skipped)} up to date, "
            f"{len(self.failed)} failed, total {elapsed:.1f} s"
            + (f"\nfailed: {', '.join(self.failed)}" if self.failed else "")
        )
        return not self.failed

    def _stop_running(self) -> list[str]:
        """Interrupt every running papermill (it saves the partial notebook), kill it after a grace period."""
        self._interrupted.set()
        with self._lock:
            running = dict(self._running)
        for process in running.values():
            _signal_group(process, signal.SIGINT)
        deadline = time.monotonic() + INTERRUPT_GRACE_SECONDS
        for process in running.values():
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
        return sorted(running)

    def _progress(self, job: Job, message: str) -> None:
        if self._interrupted.is_set():
            return
        with self._lock:
            self.log(f"[{self._count:>2}/{self._total}] {job.name} ({job.profile}) {message}")

    def _bring_up_to_date(self, job: Job) -> None:
        if self._interrupted.is_set():
            return
        input_hash = job.input_hash(self.figures_root)
        if self.is_up_to_date(job, input_hash):
            with self._lock:
                self._count += 1
                self.skipped.append(job.name)
            self._progress(job, "up to date")
            return
        with self._lock:
            self._count += 1
        self._progress(job, "running ...")
        started = time.monotonic()
        done = threading.Event()
        status_file = self._staging_parent() / f"{job.name.replace('/', '__')}.progress"

        def heartbeat() -> None:
            while not done.wait(HEARTBEAT_SECONDS):
                status = progress.read_status(status_file)
                detail = f": {status}" if status else ""
                self._progress(job, f"still running, {time.monotonic() - started:.0f} s{detail}")

        threading.Thread(target=heartbeat, daemon=True).start()
        try:
            ok, error = self._execute(job, input_hash, started, status_file)
        finally:
            done.set()
            status_file.unlink(missing_ok=True)
        if self._interrupted.is_set():
            return
        elapsed = time.monotonic() - started
        with self._lock:
            (self.ran if ok else self.failed).append(job.name)
        self._progress(job, f"done in {elapsed:.1f} s" if ok else f"FAILED after {elapsed:.1f} s\n{error}")

    def _executed_path(self, job: Job) -> Path:
        return (self.executed_dir or paths.executed_dir(job.profile)) / f"{job.name}.ipynb"

    def _execute(self, job: Job, input_hash: str, started: float, status_file: Path) -> tuple[bool, str]:
        staging_root = Path(tempfile.mkdtemp(prefix=job.name.replace("/", "__") + "-", dir=self._staging_parent()))
        executed = self._executed_path(job)
        executed_tmp = staging_root / "executed.ipynb"
        parameters_file = staging_root / "parameters.yaml"
        parameters_file.write_text(yaml.safe_dump(job.parameters), encoding="utf-8")
        env = {
            **os.environ,
            "COMPANION_FIGURES_DIR": str(self.figures_root),
            paths.RUNNER_OUTPUT_ENV: str(staging_root / "out"),
            "COMPANION_PROFILE": job.profile,
            progress.PROGRESS_ENV: str(status_file),
            "PYTHONHASHSEED": "0",
            profiles.OVERRIDES_ENV: json.dumps(job.section_overrides),
        }
        if self.jobs > 1:  # notebooks share the cores: keep each one's thread pools from oversubscribing
            threads = str(max(1, (os.cpu_count() or 1) // self.jobs))
            env.update(OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads)
        command = [
            sys.executable,
            "-m",
            "papermill",
            str(job.path),
            str(executed_tmp),
            "-f",
            str(parameters_file),
            "--cwd",
            str(job.path.parent),
            "-k",
            "python3",
            "--no-progress-bar",
            "--no-log-output",
        ]
        try:
            # its own session: Ctrl-C reaches the runner only, which stops papermill cleanly
            process = subprocess.Popen(
                command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True
            )
            with self._lock:
                self._running[job.name] = process
            _, stderr = process.communicate()
            with self._lock:
                self._running.pop(job.name, None)
            if process.returncode != 0 or self._interrupted.is_set():
                self._state_path(job).unlink(missing_ok=True)
                partial = self._keep_partial(job, executed_tmp)
                return False, _error_tail(stderr, partial)
            hide_injected_parameters(executed_tmp)
            published = self._publish(job, staging_root / "out")
            executed.parent.mkdir(parents=True, exist_ok=True)
            os.replace(executed_tmp, executed)
            self._record(job, input_hash, published + [executed], time.monotonic() - started)
            return True, ""
        finally:
            shutil.rmtree(staging_root, ignore_errors=True)

    def _keep_partial(self, job: Job, executed_tmp: Path) -> Path | None:
        """Move a failed or interrupted run's executed notebook to build/partial/<profile>/<name>.ipynb."""
        if not executed_tmp.exists():
            return None
        partial = paths.BUILD_DIR / "partial" / job.profile / f"{job.name}.ipynb"
        partial.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(executed_tmp, partial)
        with self._lock:
            self.partials[job.name] = partial
        return partial

    def _staging_parent(self) -> Path:
        parent = self.figures_root / STAGING_DIR
        parent.mkdir(parents=True, exist_ok=True)
        return parent

    def _publish(self, job: Job, staged: Path) -> list[Path]:
        """Move the staged outputs into the published tree, replacing the notebook's previous folder whole."""
        published = []
        staged_folder = staged / job.name
        target = self.figures_root / job.name
        with self._lock:
            if target.exists():
                trash = Path(tempfile.mkdtemp(dir=self._staging_parent(), prefix="old-"))
                os.replace(target, trash / "old")
                shutil.rmtree(trash, ignore_errors=True)
            if staged_folder.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staged_folder, target)
                published.extend(p for p in sorted(target.rglob("*")) if p.is_file())
            for extra in sorted(p for p in staged.glob("*") if p.is_file()):  # e.g. claims.md
                os.replace(extra, self.figures_root / extra.name)
                published.append(self.figures_root / extra.name)
        return published

    def _record(self, job: Job, input_hash: str, files: list[Path], seconds: float) -> None:
        provenance = {
            "profile": job.profile,
            "parameters": job.recorded_parameters(),
            "git_commit": manifest.git_commit(),
            "library_hash": sha256_files(job.library, paths.REPO_ROOT),
            "notebook_sha256": sha256_file(job.path),
            "input_hash": input_hash,
            "run_seconds": round(seconds, 2),
        }
        outputs = [str(p.relative_to(self.figures_root)) for p in files if p.is_relative_to(self.figures_root)]
        with self._lock:
            manifest.update(self.figures_root, job.name, files, provenance)
            state_path = self._state_path(job)
            state_path.parent.mkdir(parents=True, exist_ok=True)
            write_text(state_path, json.dumps({"input_hash": input_hash, "outputs": outputs}, indent=1))


def hide_injected_parameters(executed: Path) -> None:
    """Tag papermill's injected-parameters cell ``hide-input``: the book folds it behind a toggle."""
    notebook = json.loads(executed.read_text(encoding="utf-8"))
    for cell in notebook["cells"]:
        cell_tags = cell.setdefault("metadata", {}).setdefault("tags", [])
        if "injected-parameters" in cell_tags and "hide-input" not in cell_tags:
            cell_tags.append("hide-input")
    write_text(executed, json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n")


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(process.pid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def _remove_empty_folders(root: Path, since: float) -> None:
    """Remove folders under ``root`` made since ``since`` (epoch s) and left empty by a stopped run."""
    if not root.is_dir():
        return
    for folder in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        try:
            if folder.stat().st_mtime >= since and not any(folder.iterdir()):
                folder.rmdir()
        except OSError:
            pass


def _shown(path: Path) -> str:
    return str(path.relative_to(paths.REPO_ROOT)) if path.is_relative_to(paths.REPO_ROOT) else str(path)


def _error_tail(stderr: str, partial: Path | None, lines: int = 25) -> str:
    tail = "\n".join(stderr.strip().splitlines()[-lines:])
    hint = f"\n(partial executed notebook: {_shown(partial)})" if partial else ""
    return "    " + tail.replace("\n", "\n    ") + hint


def jobs_from_makeflags(makeflags: str | None) -> int:
    """``make -j2`` passes ``-j2`` in MAKEFLAGS; run that many notebooks at once."""
    match = re.search(r"(?:^|\s)-j\s*(\d+)", makeflags or "")
    return int(match.group(1)) if match else 1


def parse_overrides(items: list[str]) -> dict:
    """``["coco_root=/data/coco", "seeds=[0, 1]"]`` -> ``{"coco_root": "/data/coco", "seeds": [0, 1]}``.

    A dotted NAME (``jcra_recipe.train.steps=500``) names a value of a profile section."""
    overrides = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not all(part.isidentifier() for part in name.strip().split(".")):
            raise ValueError(
                f"--set expects NAME=VALUE with a parameter name or SECTION.KEY (e.g. jcra_recipe.train.steps), "
                f"got {item!r}"
            )
        value = yaml.safe_load(text) if text.strip() else ""
        if isinstance(value, str):
            try:
                value = float(value)  # YAML 1.1 reads 1e-3 as a string
            except ValueError:
                pass
        overrides[name.strip()] = text if value is None else value
    return overrides


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m companion.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="default", help=f"one of {', '.join(profiles.available())}")
    parser.add_argument("--only", nargs="*", default=None, help="notebook names, e.g. multiwrite/02_latency")
    parser.add_argument("--jobs", type=int, default=None, help="notebooks run at once (default: make's -j, else 1)")
    parser.add_argument("--force", action="store_true", help="re-run even notebooks that are up to date")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a parameter of the --only notebooks, or with a dotted NAME a value of a profile section "
        "such as jcra_recipe.train.steps (VALUE is read as YAML)",
    )
    args = parser.parse_args(argv)
    try:
        jobs = plan(args.profile, args.only, overrides=parse_overrides(args.set))
    except (ValueError, params.ParameterError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    workers = args.jobs or jobs_from_makeflags(os.environ.get("MAKEFLAGS"))
    figures_root = paths.figures_dir(args.profile)
    runner = Runner(figures_root, jobs=workers, force=args.force, log=lambda m: print(m, flush=True))
    print(f"profile {args.profile}: publishing to {_shown(figures_root)}/", flush=True)
    try:
        return 0 if runner.run(jobs) else 1
    except Interrupted as stop:
        print(stop.line(), file=sys.stderr, flush=True)
        # Under make, make got the same Ctrl-C and ends with the interrupt status itself; a non-zero
        # status here would only add make's "*** [figures] Error 130" line under ours.
        return 0 if os.environ.get("MAKELEVEL") else 130


if __name__ == "__main__":
    sys.exit(main())
