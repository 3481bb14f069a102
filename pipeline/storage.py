"""`Location`: a file or folder on any Beam filesystem (local disk, ``gs://``, ``s3://``, ...), pathlib-shaped.

The data stages run where the data lives: their inputs, run directory and every file the launcher or a
worker reads or writes go through Beam's ``FileSystems``, which pick the filesystem by the URL's scheme and
take credentials and endpoints from the standard pipeline options (``--s3_endpoint_url``, ``--project``,
...). ``use_pipeline_options`` hands those options to the launcher's own calls; Beam hands them to workers.

Object stores have no folders: a "folder" is a prefix, it exists when something lies below it, and
``mkdir`` is a no-op there.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions


def pipeline_options(beam_args: Sequence[str], **local_defaults: object) -> PipelineOptions:
    """The options of a stage's Beam job: the user's standard Beam flags, then ``local_defaults``
    (``direct_num_workers=0`` ...) for those the user did not give; the user's flag always wins."""
    args = list(beam_args)
    given = {a.split("=", 1)[0] for a in args if a.startswith("--")}
    args += [f"--{name}={value}" for name, value in local_defaults.items() if f"--{name}" not in given]
    return PipelineOptions(args)


def use_pipeline_options(beam_args: Sequence[str]) -> None:
    """Gives the launcher's filesystem calls the user's Beam options (S3 endpoint and keys, GCP project)."""
    FileSystems.set_options(pipeline_options(beam_args))


class Location:
    """A path or URL. Local paths are made absolute, so a location means the same file to every process."""

    __slots__ = ("url",)

    def __init__(self, where: str | os.PathLike[str] | Location) -> None:
        url = where.url if isinstance(where, Location) else os.fspath(where)
        if FileSystems.get_scheme(url) is None:
            url = os.path.abspath(os.path.expanduser(url))
        self.url = url.rstrip("/") if len(url) > 1 else url

    # -- names ------------------------------------------------------------------------------------
    def __truediv__(self, part: str) -> Location:
        return Location(FileSystems.join(self.url, part))

    def joinpath(self, *parts: str) -> Location:
        loc = self
        for part in parts:
            loc = loc / part
        return loc

    @property
    def name(self) -> str:
        return FileSystems.split(self.url)[1]

    @property
    def parent(self) -> Location:
        return Location(FileSystems.split(self.url)[0])

    @property
    def is_local(self) -> bool:
        return FileSystems.get_scheme(self.url) is None

    @property
    def local(self) -> Path:
        """The local path; only for locations on this machine's disk."""
        if not self.is_local:
            raise ValueError(f"{self.url} is not on the local disk")
        return Path(self.url)

    def __str__(self) -> str:
        return self.url

    def __fspath__(self) -> str:
        # Lets code that needs a local file take a local location as it is; a URL is refused right here.
        if not self.is_local:
            raise TypeError(f"{self.url} is not on the local disk")
        return self.url

    def __repr__(self) -> str:
        return f"Location({self.url!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Location) and other.url == self.url

    # -- queries ----------------------------------------------------------------------------------
    def is_file(self) -> bool:
        if self.is_local:
            return os.path.isfile(self.url)
        return FileSystems.exists(self.url)

    def exists(self) -> bool:
        """A file, or a folder (locally) / a prefix with objects below it (object stores)."""
        if self.is_local:
            return os.path.exists(self.url)
        if FileSystems.exists(self.url):
            return True
        # One object below the prefix is enough; listing every object of a large folder is not needed.
        return bool(FileSystems.match([FileSystems.join(self.url, "**")], limits=[1])[0].metadata_list)

    def size(self) -> int:
        """The file's size in bytes, from its filesystem's metadata."""
        return FileSystems.match([self.url])[0].metadata_list[0].size_in_bytes

    def files(self, pattern: str = "**") -> list[Location]:
        """The files below this folder matching ``pattern`` (Beam's glob: ``*`` within, ``**`` across
        folders), sorted."""
        matched = FileSystems.match([FileSystems.join(self.url, pattern)])[0].metadata_list
        return sorted(Location(m.path) for m in matched)

    def __lt__(self, other: Location) -> bool:
        return self.url < other.url

    # -- reading and writing ----------------------------------------------------------------------
    def open_read(self) -> IO[bytes]:
        return FileSystems.open(self.url, compression_type=CompressionTypes.UNCOMPRESSED)

    def open_write(self) -> IO[bytes]:
        """A new file (replacing one there); on an object store it appears whole when the handle closes."""
        self.parent.mkdir()
        return FileSystems.create(self.url, compression_type=CompressionTypes.UNCOMPRESSED)

    def read_bytes(self) -> bytes:
        with self.open_read() as fh:
            return fh.read()

    def read_text(self, encoding: str = "utf-8") -> str:
        return self.read_bytes().decode(encoding)

    def write_bytes(self, data: bytes) -> None:
        with self.open_write() as fh:
            fh.write(data)

    def write_text(self, text: str, encoding: str = "utf-8") -> None:
        self.write_bytes(text.encode(encoding))

    def mkdir(self) -> None:
        """Creates the folder and its parents on local disk; object stores need none."""
        if self.is_local:
            os.makedirs(self.url, exist_ok=True)

    def rmtree(self) -> None:
        """Deletes this folder and everything below it (nothing if absent)."""
        if self.is_local:
            shutil.rmtree(self.url, ignore_errors=True)
            return
        found = [f.url for f in self.files()]
        if found:
            FileSystems.delete(found)

    def unlink(self) -> None:
        if self.is_file():
            FileSystems.delete([self.url])

    def delete(self) -> None:
        """Deletes this file or folder, whichever it is (nothing if absent)."""
        self.rmtree()
        self.unlink()

    # -- whole folders between here and a local disk ------------------------------------------------
    def download(self, to: Path) -> Path:
        """Copies this folder (or file) to a local path and returns it; a local location is used in place."""
        if self.is_local:
            return self.local
        if FileSystems.exists(self.url):  # a single file
            to.parent.mkdir(parents=True, exist_ok=True)
            to.write_bytes(self.read_bytes())
            return to
        for f in self.files():
            dest = to / f.url[len(self.url) + 1 :]
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(f.read_bytes())
        return to

    def upload(self, folder: Path) -> None:
        """Copies a local folder's files here, keeping their relative paths."""
        if self.is_local and Path(self.url).resolve() == folder.resolve():
            return
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            self.joinpath(*path.relative_to(folder).parts).write_bytes(path.read_bytes())


STAGING = ".staging"


@contextlib.contextmanager
def staged_outputs(out_dir: Location, owned: Sequence[str]) -> Iterator[Location]:
    """A fresh folder below ``out_dir`` for a job's outputs, which replace the ``owned`` files and folders of
    ``out_dir`` only once the block has finished.

    A job that fails (any exception in the block) leaves the previous outputs as they were; its own partial
    outputs stay in ``out_dir/.staging`` for inspection until the next run clears them.
    """
    staging = out_dir / STAGING
    staging.rmtree()
    staging.mkdir()
    yield staging
    if staging.is_local:
        made = sorted(os.listdir(staging.url))
        for name in sorted(set(made) | set(owned)):
            (out_dir / name).delete()
        for name in made:  # one rename per top-level entry: a folder moves whole
            os.replace(os.path.join(staging.url, name), os.path.join(out_dir.url, name))
    else:  # object stores have no folders to move: object by object (a copy and a delete each)
        found = staging.files()
        for name in sorted({f.url[len(staging.url) + 1 :].split("/", 1)[0] for f in found} | set(owned)):
            (out_dir / name).delete()
        if found:
            FileSystems.rename([f.url for f in found], [out_dir.url + f.url[len(staging.url) :] for f in found])
    staging.rmtree()


def local_copy(location: Location, prefix: str) -> Path:
    """A local path to ``location``'s content for libraries that read only local files (HF tokenizers,
    numpy): the location itself when local, else a download into a temporary folder that lives as long
    as the machine's temporary files (a worker calls this once, in ``setup()``)."""
    if location.is_local:
        return location.local
    return location.download(Path(tempfile.mkdtemp(prefix=prefix)) / location.name)
