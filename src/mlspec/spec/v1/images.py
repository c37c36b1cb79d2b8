"""Container images in the spec: a reference pinned by digest, nothing else (the serving image's base, the
Argo steps' image), so a build or a pod never picks up other bytes than the ones reviewed."""

from __future__ import annotations

import re

from pydantic_core import PydanticCustomError

# [registry[:port]/]path[:tag]@sha256:<64 hex>, nothing else (no spaces, quotes, braces or line breaks, so it
# is written into a Dockerfile's FROM line or an Argo container's image as it is)
IMAGE_BY_DIGEST = re.compile(r"^(?:[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?(?::[0-9]{1,5})?/)?"
                             r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
                             r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?@sha256:[0-9a-f]{64}$")
IMAGE_HINT = ("pin the image by its digest, which `mlspec compile` cannot look up offline: run "
              "`docker buildx imagetools inspect python:3.11-slim` (or `crane digest python:3.11-slim`) and write "
              "python:3.11-slim@sha256:<the 64 hex digits>")


# a reference by tag alone, whose digest a hint can ask for by that name
_BY_TAG = re.compile(IMAGE_BY_DIGEST.pattern.removesuffix("@sha256:[0-9a-f]{64}$") + "$")


def pinned_image(value: str, noun: str, *, own_hint: bool = False) -> str:
    """`value` when it is an image reference pinned by digest, else the MLS225 finding calling it `noun`; with
    `own_hint`, the hint shows how to pin this image (when it is a reference by tag), not python's."""
    if not IMAGE_BY_DIGEST.match(value):
        said = "is not pinned by digest" if "@" not in value and "\n" not in value and " " not in value \
            else "is not an image reference pinned by digest"
        hint = IMAGE_HINT.replace("python:3.11-slim", value) if own_hint and _BY_TAG.match(value) else IMAGE_HINT
        raise PydanticCustomError("mls_image", f"{noun} '{value[:200]}' {said}", {
            "hint": hint, "code": "MLS225", "part": "value"})
    return value
