"""The one rule a sample must pass before any byte of it is sent (issue #17 item 6).

``upload_sample``, ``upload_samples``, ``samples upload`` and ``samples upload-batch`` all
call :func:`sample_problems`, so a sample refused in one place is refused everywhere, with
the same words. What is checked (docs/uploading.md "What is checked before sending"):

* the name: not empty, no spaces (Flow refuses them, docs/protocol.md §3.4);
* the sample type: one of the server's ``/samples/types`` identifiers;
* the ``data`` keys: ``reads1`` (+ ``reads2``) for every sequencing type, that is every type
  but ``generic``; other key names only for ``generic`` samples;
* the metadata: known attribute identifiers, every attribute required for the type present,
  and values among the attribute's options or matching its ``regex_validator`` where the
  server publishes them.

The server stays the final authority; these checks only refuse what it would refuse too.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from flowbio_async._errors import InvalidSampleError
from flowbio_async._models._samples import MetadataAttribute, SampleType

READS_KEYS = ("reads1", "reads2")
FREE_KEY_TYPES = frozenset({"generic"})
"""Sample types whose files may use other ``data`` keys than ``reads1``/``reads2``."""
OPTIONS_CAP = 100
"""``/samples/metadata/<id>/options`` lists at most this many values (docs/protocol.md §4.2)."""


@dataclass(frozen=True)
class SampleCatalogue:
    """What the server publishes about samples; ``None`` where it published nothing."""

    types: Sequence[SampleType] | None = None
    attributes: Sequence[MetadataAttribute] | None = None


def name_problem(name: str) -> str | None:
    """Why Flow would refuse this sample name, or ``None``.

    Example:
        ```python
        name_problem("liver 1")   # "the sample name 'liver 1' contains spaces, ..."
        ```
    """
    if not name.strip():
        return "the sample name must not be empty"
    if " " in name.strip():
        return f"the sample name {name!r} contains spaces, which Flow refuses"
    return None


def _squashed(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", text.casefold())


def type_problem(sample_type: str, types: Sequence[SampleType] | None) -> str | None:
    """Why ``sample_type`` is not one of the server's types (naming the valid ones)."""
    if not sample_type:
        return "the sample type must not be empty"
    if types is None or any(t.identifier == sample_type for t in types):
        return None
    valid = ", ".join(t.identifier for t in types)
    near = [t.identifier for t in types if _squashed(t.identifier) == _squashed(sample_type)]
    hint = f" (did you mean {near[0]!r}?)" if near else ""
    return f"unknown sample type {sample_type!r}{hint}; valid: {valid}"


def data_key_problems(sample_type: str, keys: Collection[str]) -> list[str]:
    """Problems with the ``data`` keys of a sample of ``sample_type``."""
    if not keys:
        return ["at least one file is required (data={'reads1': PATH})"]
    problems: list[str] = []
    free = sample_type in FREE_KEY_TYPES
    invalid = sorted(
        key for key in keys if key not in READS_KEYS and (not free or key.startswith("reads"))
    )
    if invalid:
        where = "" if free else f" for {sample_type} samples"
        problems.append(
            f"invalid data key(s) {invalid}{where}: use 'reads1' (and 'reads2' for "
            "paired-end reads)"
        )
    if "reads2" in keys and "reads1" not in keys:
        problems.append("reads1 is required when reads2 is given")
    return problems


def attribute_applies(attribute: MetadataAttribute, sample_type: str) -> bool:
    """Whether ``attribute`` is one a ``sample_type`` sample carries (all types, or linked)."""
    linked = {str(link.get("sample_type_identifier")) for link in attribute.sample_type_links}
    return attribute.all_sample_types is not False or sample_type in linked


def attribute_required(attribute: MetadataAttribute, sample_type: str) -> bool:
    """Whether a ``sample_type`` sample must carry ``attribute`` (as the server decides)."""
    if sample_type in attribute.required_for_sample_types:
        return True
    return attribute.required and attribute_applies(attribute, sample_type)


def _value_problem(attribute: MetadataAttribute, value: str) -> str | None:
    ident = attribute.identifier
    options = attribute.options
    if options is not None and len(options) < OPTIONS_CAP and value not in options:
        # A list at the cap may be cut short by the server: then it stays the judge.
        return f"{value!r} is not a valid {ident}; valid: {', '.join(options)}"
    pattern = attribute.regex_validator
    if pattern:
        try:
            matched = re.fullmatch(pattern, value) is not None
        except re.error:
            return None  # a pattern Python cannot read: leave it to the server
        if not matched:
            return f"{value!r} is not a valid {ident}: it must match {pattern}"
    return None


def metadata_problems(
    sample_type: str,
    metadata: Mapping[str, str],
    attributes: Sequence[MetadataAttribute] | None,
) -> list[str]:
    """Unknown keys, missing required attributes and refused values."""
    if attributes is None:
        return []
    known = {attribute.identifier: attribute for attribute in attributes}
    problems: list[str] = []
    unknown = sorted(key for key in metadata if key not in known)
    if unknown:
        valid = ", ".join(known)
        problems.append(f"unknown metadata attribute(s) {unknown}; valid: {valid}")
    for attribute in attributes:
        value = str(metadata.get(attribute.identifier) or "").strip()
        if not value:
            if attribute_required(attribute, sample_type):
                problems.append(
                    f"metadata {attribute.identifier!r} ({attribute.name}) is required for "
                    f"{sample_type} samples"
                )
            continue
        problem = _value_problem(attribute, value)
        if problem is not None:
            problems.append(problem)
    return problems


def sample_problems(
    name: str,
    sample_type: str,
    data_keys: Collection[str],
    metadata: Mapping[str, str] | None,
    catalogue: SampleCatalogue,
) -> list[str]:
    """Every reason this sample would be refused (empty when it passes).

    Example:
        ```python
        problems = sample_problems("liver 1", "RNASeq", ["R1"], {}, catalogue)
        ```
    """
    problems = [p for p in (name_problem(name), type_problem(sample_type, catalogue.types)) if p]
    problems += data_key_problems(sample_type, data_keys)
    known_type = catalogue.types is None or any(
        t.identifier == sample_type for t in catalogue.types
    )
    if known_type:  # requirements of an unknown type would only add noise
        problems += metadata_problems(sample_type, metadata or {}, catalogue.attributes)
    return problems


def check_samples(
    samples: Sequence[tuple[str, str, Collection[str], Mapping[str, str] | None]],
    catalogue: SampleCatalogue,
) -> None:
    """Raise :class:`InvalidSampleError` naming every refused sample and why, if any.

    Each sample is ``(name, sample_type, data keys, metadata)``.
    """
    refused = [
        (name, problems)
        for name, sample_type, keys, metadata in samples
        if (problems := sample_problems(name, sample_type, keys, metadata, catalogue))
    ]
    if not refused:
        return
    if len(samples) == 1:
        name, problems = refused[0]
        raise InvalidSampleError(f"sample {name!r} was not uploaded", problems)
    raise InvalidSampleError(
        f"{len(refused)} of {len(samples)} samples would be refused; nothing was uploaded",
        [f"sample {name!r}: {problem}" for name, problems in refused for problem in problems],
    )
