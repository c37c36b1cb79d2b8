"""State URLs: the forms `project.registry.uri` and `project.artifacts.uri` accept, and what follows from them.

The registry is a SQLAlchemy URL (`sqlite:///relative.db`, `postgresql://...`), a store URL: an object
store (`s3://bucket/prefix`, `gs://bucket/prefix`, `az://container/prefix`) or a folder on the machine
(`file:///absolute/path`), or an MLflow registry (`mlflow+https://host[:port][/path]`, `mlflow+http://...`,
`mlflow+sqlite:///relative.db` for a store without a server, `mlflow+databricks`). The artifact store is a
folder relative to the project, or a store URL (with an MLflow registry: only the folder where candidates
wait, since MLflow keeps the registered artifacts). This
module checks those forms (pure text: nothing is contacted), fills the artifact store's default, and
says which extras a spec needs and which state a CI job would lose when it ends.

Object-store URLs carry no credentials, queries or `${env:...}` references: credentials come from the
environment (in CI, the repository secrets listed in `project.secrets`), so the URL is safe to commit.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

OBJECT_SCHEMES = ("s3", "gs", "az")
LOCAL_ARTIFACTS = ".mlspec/artifacts"
MLFLOW_PREFIX = "mlflow+"
REGISTRY_FORMS = ('sqlite:///.mlspec/registry.db, postgresql://USER:${env:PGPASSWORD}@HOST/DB, s3://BUCKET/PREFIX, '
                  'gs://BUCKET/PREFIX, az://CONTAINER/PREFIX, file:///ABSOLUTE/PATH or mlflow+https://HOST[:PORT]')
MLFLOW_FORMS = "mlflow+https://HOST[:PORT][/PATH], mlflow+http://..., mlflow+sqlite:///relative.db or mlflow+databricks"
# an MLflow server's address: a host name or IPv4/IPv6 literal, an optional port and path, nothing else
_MLFLOW_HTTP = re.compile(r"^mlflow\+(?P<scheme>https?)://(?P<host>[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|"
                          r"\[[0-9A-Fa-f:.]+\])(?::(?P<port>[0-9]{1,5}))?(?P<path>(?:/[A-Za-z0-9._~-]*)*)$")
_SEGMENT = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]*$")
# a data file's key may name Hive-style partitions and glob its parts: s3://bucket/day=*/part-*.parquet
_DATA_SEGMENT = re.compile(r"^[A-Za-z0-9_*?\[\]=-][A-Za-z0-9._*?\[\]=-]*$")
_STORE_NAMES = {"s3": "S3 bucket", "gs": "Google Cloud Storage bucket", "az": "Azure Blob Storage container"}
_NAME_RULES = {
    "s3": "S3 bucket names have 3-63 characters: lowercase letters, digits, '.' and '-', starting and ending with "
          "a letter or digit, without '..' and not shaped like an IP address",
    "gs": "Google Cloud Storage bucket names have 3-63 characters (up to 222 in dot-separated parts of at most 63): "
          "lowercase letters, digits, '-', '_' and '.', starting and ending with a letter or digit, not starting "
          "with 'goog'",
    "az": "Azure container names have 3-63 characters: lowercase letters, digits and single '-', starting and ending "
          "with a letter or digit",
}
_S3_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_GS_PART = re.compile(r"^[a-z0-9](?:[a-z0-9_-]{0,61}[a-z0-9])?$")
_AZ_CONTAINER = re.compile(r"^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}$")


@dataclass(frozen=True)
class Problem:
    """Why a state URL is refused: a diagnostic code, a message and a hint."""

    code: str
    message: str
    hint: str


def scheme(uri: str) -> str:
    """The URL's scheme without its driver (`postgresql+psycopg://` -> `postgresql`, `mlflow+https://` ->
    `mlflow`), or '' for a plain path."""
    if uri.startswith("sqlite:"):
        return "sqlite"
    if uri.startswith(MLFLOW_PREFIX):
        return "mlflow"
    head, sep, _rest = uri.partition("://")
    return head.split("+", 1)[0].lower() if sep else ""


def is_object(uri: str) -> bool:
    """Whether `uri` names an object store (s3://, gs://, az://)."""
    return scheme(uri) in OBJECT_SCHEMES


def is_file(uri: str) -> bool:
    """Whether `uri` is a file:// URL (a folder on the machine that runs the job)."""
    return scheme(uri) == "file"


def is_store(uri: str) -> bool:
    """Whether a registry URL names a store of objects (object store or file://) rather than a database."""
    return is_object(uri) or is_file(uri)


def is_mlflow(uri: str) -> bool:
    """Whether a registry URL names an MLflow registry (mlflow+http(s)://, mlflow+sqlite:///, mlflow+databricks)."""
    return uri.startswith(MLFLOW_PREFIX)


def is_local_mlflow(uri: str) -> bool:
    """Whether an MLflow registry is a SQLite file in the project (no server: lost with a CI job's workspace)."""
    return uri.startswith(MLFLOW_PREFIX + "sqlite:")


def mlflow_sqlite_path(uri: str) -> str:
    """The project-relative file of an mlflow+sqlite:/// registry."""
    return uri[len(MLFLOW_PREFIX + "sqlite:///"):]


def default_artifacts(registry_uri: str) -> str:
    """The artifact store when the spec names none: beside a store registry, else a folder in the project."""
    if is_store(registry_uri):
        return registry_uri.rstrip("/") + "/artifacts"
    return LOCAL_ARTIFACTS


def candidate_folder(artifacts_uri: str) -> str | None:
    """The project folder in which a trained candidate waits for its gate on the runner, or None when it is
    written straight to a folder every job can see (file://). A remote store keeps its local cache there."""
    if is_file(artifacts_uri):
        return None
    return LOCAL_ARTIFACTS if is_object(artifacts_uri) else artifacts_uri.rstrip("/")


def extras_for(uris: list[str]) -> list[str]:
    """The mlspec-gitops extras that state and source URLs need: postgres for PostgreSQL, objectstore for
    s3://, gs:// and az://, mlflow for an MLflow registry."""
    extras = set()
    for uri in uris:
        if scheme(uri) == "postgresql":
            extras.add("postgres")
        elif is_object(uri):
            extras.add("objectstore")
        elif is_mlflow(uri):
            extras.add("mlflow")
    return sorted(extras)


def registry_problem(uri: str) -> Problem | None:
    """Why a registry URL is refused (None when its form is fine; SQL URLs get `check_uri`'s checks too)."""
    kind = scheme(uri)
    if kind in ("sqlite", "postgresql"):
        return None
    if kind in OBJECT_SCHEMES:
        return object_problem(uri)
    if kind == "file":
        return file_problem(uri)
    if kind == "mlflow":
        return mlflow_problem(uri)
    if not kind:
        return Problem("MLS220", f"registry '{uri}' is not a URL", f"write one of {REGISTRY_FORMS}")
    hint = "write postgresql://" if kind == "postgres" else f"write one of {REGISTRY_FORMS}"
    return Problem("MLS220", f"'{kind}://' is not a registry mlspec supports", hint)


def artifacts_problem(uri: str) -> Problem | None:
    """Why an artifact-store URL is refused (None for a fine URL; plain folders are checked as paths)."""
    kind = scheme(uri)
    if kind in OBJECT_SCHEMES:
        return object_problem(uri)
    if kind == "file":
        return file_problem(uri)
    return Problem("MLS220", f"'{kind}://' is not an artifact store mlspec supports", (
        "write a folder relative to the project (.mlspec/artifacts), s3://BUCKET/PREFIX, gs://BUCKET/PREFIX, "
        "az://CONTAINER/PREFIX or file:///ABSOLUTE/PATH"))


def mlflow_problem(uri: str) -> Problem | None:
    """Why an MLflow registry URL is refused: credentials, queries, references or another form than
    mlflow+http(s)://HOST[:PORT][/PATH], mlflow+sqlite:///relative.db or mlflow+databricks."""
    rest = uri[len(MLFLOW_PREFIX):]
    if "${" in uri:
        return Problem("MLS220", "an MLflow registry URL has no ${env:...} reference", (
            "MLflow reads its credentials from the environment: MLFLOW_TRACKING_TOKEN (or MLFLOW_TRACKING_USERNAME "
            "and MLFLOW_TRACKING_PASSWORD); generated workflows pass MLFLOW_TRACKING_TOKEN from the secret of "
            "that name"))
    if rest.startswith(("http://", "https://")):
        if "@" in rest.split("://", 1)[1].split("/", 1)[0]:
            return Problem("MLS208", "an MLflow registry URL carries no credentials", (
                "remove them from the URL: MLflow reads MLFLOW_TRACKING_TOKEN (or MLFLOW_TRACKING_USERNAME and "
                "MLFLOW_TRACKING_PASSWORD) from the environment, which generated workflows fill from the secret "
                "MLFLOW_TRACKING_TOKEN"))
        match = _MLFLOW_HTTP.match(uri)
        if match is None or "?" in uri or "#" in uri:
            return Problem("MLS220", "not an MLflow server address", (
                "write mlflow+https://HOST[:PORT][/PATH] (letters, digits, '.', '-' in the host; no query, '#' "
                "part or credentials)"))
        if match["port"] is not None and not 1 <= int(match["port"]) <= 65535:
            return Problem("MLS220", f"port {match['port']} is not a TCP port", "write a port from 1 to 65535")
        return None
    if rest.startswith("sqlite:"):
        database = rest[len("sqlite:"):]
        if not database.startswith("///") or database.startswith("////"):
            return Problem("MLS220", "a server-less MLflow store is a SQLite file in the project",
                           "write mlflow+sqlite:///relative/path.db (three slashes)")
        path = database[3:]
        if not path or "?" in path or "#" in path:
            return Problem("MLS220", "a server-less MLflow store names a file and nothing else",
                           "write mlflow+sqlite:///relative/path.db")
        return None  # the path itself is checked like every project path (spec.check_project)
    if rest == "databricks":
        return None
    return Problem("MLS220", f"'{uri}' is not an MLflow registry mlspec supports", f"write one of {MLFLOW_FORMS}")


def data_problem(uri: str) -> Problem | None:
    """Why an object-store URL of a data file is refused: as `object_problem`, but it must name a file, whose
    key may use `=` (partitions) and the globs `*`, `?`, `[...]`."""
    problem = object_problem(uri, _DATA_SEGMENT)
    if problem is None and (uri.endswith("/") or "/" not in uri.split("://", 1)[1]):
        problem = Problem("MLS220", "the URL names a bucket or folder, not a file",
                          f"write {scheme(uri)}://BUCKET/PATH/FILE (or a glob of parts: .../day=*/*.parquet)")
    return problem


def object_problem(uri: str, segment: re.Pattern = _SEGMENT) -> Problem | None:
    """Why an s3://, gs:// or az:// URL is refused: credentials, queries, references, bad names or paths."""
    kind = scheme(uri)
    rest = uri.split("://", 1)[1]
    bucket, _sep, prefix = rest.partition("/")
    if "@" in bucket:
        return Problem("MLS208", "object-store URLs carry no credentials", (
            "remove them from the URL and list the variables that hold them in project.secrets (for S3: "
            "[AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY]); set those as repository secrets"))
    if "${" in uri:
        return Problem("MLS220", "${env:...} references are only for passwords in SQL URLs", (
            "an object store reads its credentials and settings from the environment: list the variables in "
            "project.secrets"))
    if "?" in uri or "#" in uri:
        return Problem("MLS220", "an object-store URL has no query or '#' part", (
            "settings such as the region or an S3-compatible endpoint come from the environment (AWS_REGION, "
            "AWS_ENDPOINT_URL): list them in project.secrets"))
    if not _bucket_ok(kind, bucket):
        return Problem("MLS220", f"'{bucket}' is not a valid {_STORE_NAMES[kind]} name", _NAME_RULES[kind])
    return _prefix_problem(prefix.removesuffix("/"), f"{kind}://BUCKET/PREFIX", segment)


def file_problem(uri: str) -> Problem | None:
    """Why a file:// URL is refused: it names an absolute folder, with safe parts and nothing else."""
    path = uri.split("://", 1)[1]
    if not path.startswith("/") or path == "/":
        return Problem("MLS220", "a file URL names an absolute folder on this machine, not a host",
                       "write file:///absolute/path (three slashes)")
    if "?" in uri or "#" in uri or "${" in uri:
        return Problem("MLS220", "a file URL has no query, '#' part or ${...} reference",
                       "write file:///absolute/path")
    return _prefix_problem(path[1:].removesuffix("/"), "file:///absolute/path")


def _prefix_problem(prefix: str, form: str, segment: re.Pattern = _SEGMENT) -> Problem | None:
    if not prefix:
        return None
    for part in prefix.split("/"):
        if part in (".", ".."):
            return Problem("MLS220", f"the URL's path has a '{part}' segment", f"write {form} with plain folder names")
        if not segment.match(part):
            return Problem("MLS220", f"the URL's path part '{part}' is empty or has characters other than letters, "
                           "digits, '.', '_' and '-'", f"write {form} with plain folder names")
    return None


def _bucket_ok(kind: str, name: str) -> bool:
    if kind == "s3":
        return (bool(_S3_BUCKET.match(name)) and ".." not in name and not _is_ip(name)
                and not name.startswith("xn--") and not name.endswith("-s3alias"))
    if kind == "gs":
        parts = name.split(".")
        return (3 <= len(name) <= (222 if len(parts) > 1 else 63) and all(_GS_PART.match(p) for p in parts)
                and not name.startswith("goog") and "google" not in name and not _is_ip(name))
    return bool(_AZ_CONTAINER.match(name))


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True
