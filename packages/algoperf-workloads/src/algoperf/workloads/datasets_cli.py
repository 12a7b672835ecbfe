"""The `algoperf-datasets` command: prepare the workloads' datasets and check their state.

`algoperf-datasets prepare NAME --data-dir D` downloads and prepares one dataset (or `all`)
under D, then verifies its split sizes; `algoperf-datasets status --data-dir D` shows every
dataset's state without changing anything. TFDS datasets are prepared as ArrayRecord, which
the workloads read without TensorFlow; preparing them needs the `prepare` extra. A prepared
dataset is only verified, never prepared again; an interrupted prepare resumes (TFDS reuses
the downloads and extractions that finished and regenerates the rest). ImageNet needs the
user's `ILSVRC2012_img_train.tar` and `ILSVRC2012_img_val.tar` in the manual dir
(`--manual-dir`, default DATA_DIR/downloads/manual); without them it stops with the steps
to take. Criteo 1TB is prepared by
`algoperf.workloads.criteo1tb.prepare`, which stops with instructions when a file must be
downloaded by hand; FineWeb-Edu by `algoperf.workloads.finewebedu_lm.prepare` (the
`finewebedu` extra: Hugging Face `datasets` and tiktoken), which resumes after its last shard.
fastMRI's files are behind a licence form: `prepare fastmri --manual-dir M` extracts the
downloaded tarballs found in M (`algoperf.workloads.fastmri.prepare`).
LibriSpeech by `algoperf.workloads.librispeech.prepare`, which downloads the openslr tarballs
(or those of `--mirror`) into `--temp-dir` (default `DATA_DIR/downloads/librispeech`),
resuming a partial download and checking each against its published SHA-256; tarballs or
extracted subsets already there are used as they are.

This is the only module of the package that parses arguments.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import logging
import re
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from algoperf.api import AlgoPerfError, did_you_mean
from algoperf.workloads import _tfds
from algoperf.workloads._prepare import ManualStepRequired
from algoperf.workloads.criteo1tb import files

OK, FAILED, NEEDS_USER = 0, 1, 2
"""Exit codes: done and verified; a verification or preparation failed; the user must act
(a manual download, a missing extra, a bad name)."""
PREPARE_EXTRA = "pip install 'algoperf-workloads[prepare]'"
CRITEO = "criteo1tb"
CRITEO_MODULE = "algoperf.workloads.criteo1tb.prepare"
FINEWEBEDU = "finewebedu"
FINEWEBEDU_EXTRA = "pip install 'algoperf-workloads[finewebedu]'"
WMT = "wmt"
"""Two TFDS datasets (wmt17 and wmt14 de-en), a trained tokenizer and token ids: see
`algoperf.workloads.wmt.prepare`."""
FASTMRI = "fastmri"
LIBRISPEECH = "librispeech"
LIBRISPEECH_EXTRA = "pip install 'algoperf-workloads[librispeech]'"


@dataclass(frozen=True)
class TfdsDataset:
    """A dataset the workloads read from TFDS, and the split sizes it must have."""

    tfds_name: str
    """TFDS name and version, as the workloads read it."""
    split_sizes: Mapping[str, int]
    """Examples per TFDS split (the workloads cut validation out of train where needed)."""
    requires: tuple[str, ...] = ("tensorflow",)
    """Modules TFDS needs to prepare it: TensorFlow extracts downloads and encodes images;
    ogbg_molpcba's builder reads the OGB CSV files with pandas."""
    manual_files: tuple[str, ...] = ()
    """Files the user must download by hand into the manual dir (ImageNet's tars)."""
    manual_steps: str = ""
    """How to get `manual_files`, for the message when they are missing."""


TFDS_DATASETS: Mapping[str, TfdsDataset] = {
    "mnist": TfdsDataset("mnist:3.0.1", {"train": 60_000, "test": 10_000}),
    "cifar10": TfdsDataset("cifar10:3.0.2", {"train": 50_000, "test": 10_000}),
    "ogbg_molpcba": TfdsDataset(
        "ogbg_molpcba:0.1.3",
        {"train": 350_343, "validation": 43_793, "test": 43_793},
        ("tensorflow", "pandas"),
    ),
    "imagenet": TfdsDataset(
        "imagenet2012:5.1.0",
        {"train": 1_281_167, "validation": 50_000},
        manual_files=("ILSVRC2012_img_train.tar", "ILSVRC2012_img_val.tar"),
        manual_steps=(
            "ImageNet cannot be downloaded automatically. 1. Log in at https://image-net.org "
            "and accept the terms of access. 2. From the ILSVRC2012 download page, fetch "
            "ILSVRC2012_img_train.tar (138 GB) and ILSVRC2012_img_val.tar (6.3 GB). 3. Put both "
            "in {manual_dir} (or pass --manual-dir DIR where they are). 4. Run this command "
            "again: TFDS then writes about 150 GB of ArrayRecord files (hours on one machine)."
        ),
    ),
    "imagenet_v2": TfdsDataset("imagenet_v2/matched-frequency:3.0.0", {"test": 10_000}),
}
"""mnist's and cifar10's train splits hold the workloads' train and validation examples;
imagenet_v2 (matched-frequency) is the ImageNet workloads' test split."""
NAMES = (*TFDS_DATASETS, CRITEO, WMT, FINEWEBEDU, FASTMRI, LIBRISPEECH)
ALIASES = {
    "cifar": "cifar10",
    "ogbg": "ogbg_molpcba",
    "criteo": CRITEO,
    "finewebedu_lm": FINEWEBEDU,
    "fineweb_edu": FINEWEBEDU,
    "imagenet2012": "imagenet",
    "imagenet_resnet": "imagenet",
    "imagenet_vit": "imagenet",
    "librispeech_conformer": LIBRISPEECH,
    "librispeech_deepspeech": LIBRISPEECH,
}
"""Workload names accepted for their dataset."""

Echo = Callable[[str], None]
BuilderFactory = Callable[[str, Path], Any]
"""(TFDS name with version, data dir) -> a `tfds.core.DatasetBuilder` (or a test double)."""


def tfds_builder(name: str, data_dir: Path) -> Any:
    """The TFDS builder of `name` under `data_dir`, in whatever format it was prepared."""
    return _tfds.import_tfds().builder(name, data_dir=str(data_dir))


class MissingExtraError(AlgoPerfError):
    """Preparing a dataset needs packages that are not installed."""


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _missing_message(name: str, module: str) -> str:
    hint = PREPARE_EXTRA if module == "tensorflow" else f"pip install {module}"
    return f"{name}: preparing it needs {module}, which is not installed; install it: {hint}"


def _file_format(builder: Any) -> str:
    fmt = builder.info.file_format
    return str(getattr(fmt, "value", fmt))


def check(name: str, builder: Any) -> list[tuple[str, bool]]:
    """One (line, ok) per check of a prepared dataset: ArrayRecord format, then each split size."""
    fmt = _file_format(builder)
    if fmt != "array_record":
        where = builder.data_dir
        return [(f"prepared as {fmt}, not ArrayRecord: move {where} away and prepare again", False)]
    splits = builder.info.splits
    lines = []
    for split, expected in TFDS_DATASETS[name].split_sizes.items():
        found = splits[split].num_examples if split in splits else 0
        if found == expected:
            lines.append((f"{split}: {found:,} examples ok", True))
        else:
            lines.append((f"{split}: expected {expected:,} examples, found {found:,}", False))
    return lines


def verify(name: str, builder: Any, echo: Echo) -> bool:
    """Whether a prepared dataset passes `check`; echoes each check and a verdict."""
    lines = check(name, builder)
    for line, ok in lines:
        echo(f"  {line}" if ok else f"  MISMATCH: {line}")
    ok = all(ok for _, ok in lines)
    if ok:
        echo(f"{name}: ok ({builder.data_dir})")
    else:
        echo(f"{name}: MISMATCH ({builder.data_dir}); move it away and prepare again")
    return ok


def manual_dir_of(data_dir: Path, temp_dir: Path | None, manual_dir: Path | None) -> Path:
    """Where the user's manual downloads are: `manual_dir`, else TFDS's `<downloads>/manual`."""
    if manual_dir is not None:
        return manual_dir
    return (temp_dir or data_dir / "downloads") / "manual"


def check_manual_files(name: str, manual_dir: Path) -> None:
    """Nothing when `name` needs no manual download or its files are in `manual_dir`.

    Raises:
        ManualStepRequired: listing the missing files and the steps to get them.
    """
    dataset = TFDS_DATASETS[name]
    missing = [f for f in dataset.manual_files if not (manual_dir / f).is_file()]
    if missing:
        steps = dataset.manual_steps.format(manual_dir=manual_dir)
        raise ManualStepRequired(f"{name}: missing {', '.join(missing)} in {manual_dir}. {steps}")


def prepare_tfds(
    name: str,
    data_dir: Path,
    temp_dir: Path | None,
    echo: Echo,
    builder_factory: BuilderFactory = tfds_builder,
    manual_dir: Path | None = None,
) -> int:
    """Prepare TFDS dataset `name` under `data_dir` unless it is there, then verify it.

    Returns:
        The exit code: OK when verified, FAILED on a mismatch.

    Raises:
        MissingExtraError: if TensorFlow (or tensorflow-datasets) is needed but missing.
        ManualStepRequired: if files the user must download by hand are missing.
    """
    dataset = TFDS_DATASETS[name]
    builder = builder_factory(dataset.tfds_name, data_dir)
    manual = manual_dir_of(data_dir, temp_dir, manual_dir)
    if builder.is_prepared():
        echo(f"{name}: already prepared; verifying")
    else:
        check_manual_files(name, manual)
        for module in dataset.requires:
            if not _installed(module):
                raise MissingExtraError(_missing_message(name, module))
        echo(f"{name}: downloading and preparing {dataset.tfds_name} under {data_dir}")
        try:
            builder.download_and_prepare(
                download_dir=str(temp_dir) if temp_dir else None,
                download_config=_download_config(manual if dataset.manual_files else None),
                file_format="array_record",
            )
        except ModuleNotFoundError as error:
            # TFDS re-raises some import errors with a longer message and without `name`.
            found = error.name or re.search(r"No module named '([\w.]+)'", str(error))
            if not found:
                raise
            module = found if isinstance(found, str) else found[1]
            raise MissingExtraError(_missing_message(name, module.split(".")[0])) from error
    return OK if verify(name, builder, echo) else FAILED


def _download_config(manual_dir: Path | None = None) -> Any:
    # Never fetch TFDS's pre-built TFRecord copy from GCS: the workloads read ArrayRecord.
    return _tfds.import_tfds().download.DownloadConfig(
        try_download_gcs=False, manual_dir=str(manual_dir) if manual_dir else None
    )


@contextlib.contextmanager
def _needs_extra(name: str, install: str) -> Iterator[None]:
    """A module a dataset's prepare imports and that is missing becomes one clear error."""
    try:
        yield
    except (ModuleNotFoundError, _tfds.TfdsNotInstalledError) as error:
        module = getattr(error, "name", None) or "tensorflow-datasets"
        raise MissingExtraError(
            f"{name}: preparing it needs {module}, which is not installed; install it: {install}"
        ) from error


def prepare_criteo(data_dir: Path, echo: Echo) -> int:
    """Run Criteo 1TB's own `prepare`; ManualStepRequired propagates to the caller."""
    try:
        module = importlib.import_module(CRITEO_MODULE)
    except ModuleNotFoundError as error:
        if error.name != CRITEO_MODULE:
            raise
        echo(f"{CRITEO}: preparing it is not available in this version of algoperf-workloads")
        return FAILED
    with _needs_extra(CRITEO, "pip install 'algoperf-workloads[criteo]'"):
        module.prepare(data_dir, echo)
    return OK


def prepare_finewebedu(
    data_dir: Path, temp_dir: Path | None, echo: Echo, source: Path | None = None
) -> int:
    """Run FineWeb-Edu's `prepare` (download, tokenise, shard, verify)."""
    from algoperf.workloads.finewebedu_lm import prepare as lm_prepare

    with _needs_extra(FINEWEBEDU, FINEWEBEDU_EXTRA):
        ok = lm_prepare.prepare(data_dir, echo, source=source, temp_dir=temp_dir)
    return OK if ok else FAILED


def prepare_wmt(
    data_dir: Path, temp_dir: Path | None, echo: Echo, builder_factory: BuilderFactory
) -> int:
    """Run wmt's own `prepare` (TFDS builds, SentencePiece training, tokenisation)."""
    from algoperf.workloads.wmt import prepare as wmt_prepare

    with _needs_extra(WMT, "pip install 'algoperf-workloads[prepare,wmt]'"):
        ok = wmt_prepare.prepare(data_dir, echo, builder_factory, temp_dir)
    return OK if ok else FAILED


def prepare_fastmri(data_dir: Path, manual_dir: Path | None, echo: Echo) -> int:
    """Extract and verify fastMRI; ManualStepRequired propagates to the caller."""
    from algoperf.workloads.fastmri import prepare as fastmri_prepare

    with _needs_extra(FASTMRI, "pip install 'algoperf-workloads[fastmri]'"):
        fastmri_prepare.prepare(data_dir, manual_dir, echo)
    return OK


def librispeech_raw_dir(data_dir: Path, temp_dir: Path | None) -> Path:
    """Where `prepare librispeech` downloads the openslr tarballs and extracts them."""
    return temp_dir if temp_dir is not None else data_dir / "downloads" / LIBRISPEECH


def prepare_librispeech(
    data_dir: Path, temp_dir: Path | None, echo: Echo, mirror: str | None = None
) -> int:
    """Download (from openslr, or `mirror`), extract and prepare LibriSpeech's six subsets."""
    with _needs_extra(LIBRISPEECH, LIBRISPEECH_EXTRA):
        from algoperf.workloads.librispeech import prepare as speech_prepare

        download = speech_prepare.Download(mirror or speech_prepare.OPENSLR)
        raw = librispeech_raw_dir(data_dir, temp_dir)
        counts = speech_prepare.prepare(raw, data_dir, download=download, echo=echo)
    for subset, count in counts.items():
        echo(f"{LIBRISPEECH} {subset}: {count['kept']:,} of {count['raw']:,} utterances kept")
    return OK


def _librispeech_state(data_dir: Path) -> str:
    from algoperf.workloads.librispeech import files as speech_files

    counts = data_dir / speech_files.DIRNAME / speech_files.COUNTS
    written = [s for s in speech_files.RAW_COUNTS if speech_files.record_path(data_dir, s).exists()]
    if counts.exists() and len(written) == len(speech_files.RAW_COUNTS):
        return f"ok ({data_dir / speech_files.DIRNAME})"
    if written:
        return f"incomplete: {len(written)} of {len(speech_files.RAW_COUNTS)} subsets written"
    return f"not prepared (algoperf-datasets prepare {LIBRISPEECH} --data-dir {data_dir})"


def prepare(
    name: str,
    data_dir: Path,
    temp_dir: Path | None = None,
    echo: Echo = print,
    builder_factory: BuilderFactory = tfds_builder,
    manual_dir: Path | None = None,
    mirror: str | None = None,
) -> int:
    """Prepare and verify dataset `name` (one of `NAMES`); returns the exit code.

    `mirror` replaces openslr's URL for LibriSpeech's tarballs.

    Raises:
        ManualStepRequired: when Criteo's, ImageNet's or fastMRI's files must be downloaded by
            hand.
        MissingExtraError: when the `prepare` extra is missing.
    """
    if name == CRITEO:
        return prepare_criteo(data_dir, echo)
    if name == WMT:
        return prepare_wmt(data_dir, temp_dir, echo, builder_factory)
    if name == FINEWEBEDU:
        return prepare_finewebedu(data_dir, temp_dir, echo)
    if name == FASTMRI:
        return prepare_fastmri(data_dir, manual_dir, echo)
    if name == LIBRISPEECH:
        return prepare_librispeech(data_dir, temp_dir, echo, mirror)
    try:
        return prepare_tfds(name, data_dir, temp_dir, echo, builder_factory, manual_dir)
    except _tfds.TfdsNotInstalledError as error:
        raise MissingExtraError(
            f"{name}: preparing it needs tensorflow-datasets; install it: {PREPARE_EXTRA}"
        ) from error


def status_line(name: str, data_dir: Path, builder_factory: BuilderFactory = tfds_builder) -> str:
    """One line on dataset `name`'s state under `data_dir`; changes nothing."""
    if name == CRITEO:
        return f"{name}: {_criteo_state(data_dir)}"
    if name == WMT:
        from algoperf.workloads.wmt import data as wmt_data

        missing = [
            s
            for s in wmt_data.SPLITS
            if not (data_dir / wmt_data.TOKENIZED_DIR / f"{s}.npz").exists()
        ]
        if missing:
            return f"{name}: not prepared (algoperf-datasets prepare wmt --data-dir {data_dir})"
        return f"{name}: tokenised splits present ({data_dir / wmt_data.TOKENIZED_DIR})"
    if name == FINEWEBEDU:
        return f"{name}: {_finewebedu_state(data_dir)}"
    if name == FASTMRI:
        from algoperf.workloads.fastmri import prepare as fastmri_prepare

        return f"{name}: {fastmri_prepare.state(data_dir)}"
    if name == LIBRISPEECH:
        return f"{name}: {_librispeech_state(data_dir)}"
    dataset = TFDS_DATASETS[name]
    try:
        builder = builder_factory(dataset.tfds_name, data_dir)
    except _tfds.TfdsNotInstalledError:
        return (
            f"{name}: unknown (install tensorflow-datasets: pip install 'algoperf-workloads[tfds]')"
        )
    if not builder.is_prepared():
        return f"{name}: not prepared ({_tfds.prepare_command(name, str(data_dir))})"
    problems = [line for line, ok in check(name, builder) if not ok]
    if problems:
        return f"{name}: MISMATCH ({builder.data_dir}): {'; '.join(problems)}"
    return f"{name}: ok ({builder.data_dir})"


def _criteo_state(data_dir: Path) -> str:
    days = files.day_files(data_dir)
    if not days:
        return f"not prepared ({files.prepare_command(data_dir)})"
    eval_files = len(days.get(files.EVAL_DAY, []))
    complete = len(days) == files.NUM_DAYS and eval_files == files.NUM_EVAL_DAY_FILES
    count = sum(len(parts) for parts in days.values())
    state = "files present" if complete else "incomplete"
    return f"{state}: {count} day files of {len(days)} of {files.NUM_DAYS} days in {data_dir}"


def _finewebedu_state(data_dir: Path) -> str:
    from algoperf.workloads.finewebedu_lm import data as lm_data

    folder = data_dir / lm_data.DATASET_DIR
    try:
        index = lm_data.read_index(folder)
    except lm_data.FineWebEduNotPreparedError:
        if (folder / lm_data.INDEX_FILE).is_file():
            return f"incomplete ({lm_data.prepare_command(data_dir)} resumes it)"
        return f"not prepared ({lm_data.prepare_command(data_dir)})"
    windows = {s: e["windows"] for s, e in index["splits"].items()}
    return f"ok ({folder}): " + ", ".join(f"{s} {n:,} windows" for s, n in windows.items())


def resolve(name: str) -> list[str]:
    """The datasets `name` stands for ('all', a dataset or a workload alias).

    Raises:
        ValueError: for an unknown name, with a did-you-mean hint.
    """
    if name == "all":
        return list(NAMES)
    name = ALIASES.get(name, name)
    if name not in NAMES:
        choices = (*NAMES, "all", *ALIASES)
        raise ValueError(
            f"unknown dataset {name!r}{did_you_mean(name, choices)}; "
            f"choose one of: {', '.join((*NAMES, 'all'))}"
        )
    return [name]


def _parser() -> argparse.ArgumentParser:
    summary = (__doc__ or "").split("\n\n")[0]
    parser = argparse.ArgumentParser(prog="algoperf-datasets", description=summary)
    commands = parser.add_subparsers(dest="command", required=True)
    prep = commands.add_parser("prepare", help="download, prepare and verify a dataset")
    prep.add_argument("name", help=f"one of: {', '.join(NAMES)}, or all")
    prep.add_argument("--data-dir", type=Path, required=True, help="where the datasets live")
    prep.add_argument(
        "--temp-dir",
        type=Path,
        help="where TFDS keeps downloads (default: DATA_DIR/downloads); LibriSpeech's "
        "tarballs and their extraction (default: DATA_DIR/downloads/librispeech)",
    )
    prep.add_argument(
        "--manual-dir",
        type=Path,
        help="where the files downloaded by hand are (ImageNet's tars, default TEMP_DIR/manual; "
        "fastMRI's tarballs, default DATA_DIR)",
    )
    prep.add_argument(
        "--mirror",
        metavar="URL",
        help="where LibriSpeech's <subset>.tar.gz files are downloaded from (default: "
        "https://www.openslr.org/resources/12/; any openslr mirror of resource 12)",
    )
    for command in ("status", "list"):
        show = commands.add_parser(command, help="show each dataset's state under the data dir")
        show.add_argument("--data-dir", type=Path, required=True)
    return parser


def cli(
    args_list: Sequence[str] | None = None,
    *,
    echo: Echo = print,
    builder_factory: BuilderFactory = tfds_builder,
) -> int:
    """Run the command line `args_list` (default: sys.argv); returns the exit code."""
    args = _parser().parse_args(args_list)
    data_dir = args.data_dir.expanduser().absolute()
    if args.command in ("status", "list"):
        for name in NAMES:
            echo(status_line(name, data_dir, builder_factory))
        return OK
    try:
        names = resolve(args.name)
    except ValueError as error:
        print(f"algoperf-datasets: {error}", file=sys.stderr)
        return NEEDS_USER
    temp_dir = args.temp_dir.expanduser().absolute() if args.temp_dir else None
    manual_dir = args.manual_dir.expanduser().absolute() if args.manual_dir else None
    code = OK
    for name in names:
        try:
            result = prepare(
                name, data_dir, temp_dir, echo, builder_factory, manual_dir, args.mirror
            )
        except (ManualStepRequired, MissingExtraError) as error:
            print(str(error), file=sys.stderr)
            result = NEEDS_USER
        except AlgoPerfError as error:
            print(f"{name}: {error}", file=sys.stderr)
            result = FAILED
        code = max(code, result)
    return code


def main() -> None:
    """Entry point of the `algoperf-datasets` console script."""
    # TFDS warns through absl about every dataset folder it does not find; status expects that.
    logging.getLogger("absl").setLevel(logging.ERROR)
    sys.exit(cli())
