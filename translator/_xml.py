"""Reading untrusted XML safely: bounded size and depth, no DTD, no entities, no network.

A model file comes from anyone (a modeler, a repository, an upload), so the parser must never
expand entities (billion laughs), read files or URLs (XXE), or recurse without bound.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from lxml import etree

from translator._context import CompileContext
from translator._errors import Problem, TranslationError
from translator._namespaces import bpmn, local_name

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_DEPTH = 64
"""Deepest element nesting we accept. Real models stay far below (a sub-process in a
sub-process adds one level); the bound keeps the recursive compile far from Python's limit."""
_DTD_MARKER = re.compile(rb"<!(?:DOCTYPE|ENTITY)")
"""``<!DOCTYPE`` or ``<!ENTITY`` anywhere: one pass over the bytes instead of one per marker."""
_DTD_KEYWORDS = (b"DOCTYPE", b"ENTITY")
_FEW_BANGS = 64
"""How many ``!`` are looked at one by one before one regex pass looks at the rest."""


def read_model_file(path: Path) -> bytes:
    """The bytes of a model file, or a TranslationError saying why it cannot be read."""
    try:
        return path.read_bytes()
    except OSError as error:
        raise TranslationError(
            [Problem(str(path), f"cannot read file: {error.strerror}")]
        ) from None


def parse_definitions(ctx: CompileContext, data: bytes) -> etree._Element | None:
    """The BPMN ``<definitions>`` root of ``data``, or None with the problem recorded."""
    root = parse_xml(ctx, data)
    if root is not None and root.tag != bpmn("definitions"):
        ctx.problem(
            root, f"root element is <{local_name(root.tag)}>, expected BPMN 2.0 <definitions>"
        )
        return None
    return root


def parse_xml(ctx: CompileContext, data: bytes) -> etree._Element | None:
    """The root element of ``data``, read safely, or None with the problem recorded."""
    if len(data) > MAX_FILE_BYTES:
        ctx.problem(None, f"file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")
        return None
    if _declares_dtd(data):
        _refuse_dtd(ctx)
        return None
    root = _parse(ctx, data)
    if root is None:
        return None
    if root.getroottree().docinfo.internalDTD is not None:  # e.g. a UTF-16 file
        _refuse_dtd(ctx)
        return None
    if _too_deep(root):
        ctx.problem(root, f"elements are nested more than {MAX_DEPTH} levels deep")
        return None
    return root


def _declares_dtd(data: bytes) -> bool:
    """Whether ``<!DOCTYPE`` or ``<!ENTITY`` occurs anywhere in ``data``.

    A model has few ``!`` (comments, CDATA, a ``!=`` here and there), and finding the next
    one is a ``memchr``, several times faster than the regex's scan; past a few, the regex
    looks at the rest, so no input makes this slow.
    """
    bang = data.find(b"!")
    for _ in range(_FEW_BANGS):
        if bang < 0:
            return False
        if data[bang - 1 : bang] == b"<" and data.startswith(_DTD_KEYWORDS, bang + 1):
            return True
        bang = data.find(b"!", bang + 1)
    return bang >= 0 and _DTD_MARKER.search(data, max(bang - 1, 0)) is not None


def _parse(ctx: CompileContext, data: bytes) -> etree._Element | None:
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,  # keeps libxml2's own limits on depth and text size
        remove_comments=True,
        remove_pis=True,
        # Whitespace between elements becomes no node at all: a tenth less to build and free
        # (the BPMN DI is mostly indentation). libxml2 keeps whitespace that is an element's
        # only content, so no text the compiler reads changes.
        remove_blank_text=True,
    )
    try:
        return etree.fromstring(data, parser)
    except etree.XMLSyntaxError as error:
        line = error.lineno if isinstance(error.lineno, int) else None
        message = f"not well-formed XML: {error.msg}"
        if "Excessive depth" in str(error.msg):
            message = "not well-formed XML: elements are nested too deeply"
        ctx.problem_at(None, line, message)
    except (etree.LxmlError, ValueError) as error:
        ctx.problem_at(None, None, f"not well-formed XML: {error}")
    return None


def _refuse_dtd(ctx: CompileContext) -> None:
    ctx.problem(
        None,
        "the XML declares a DTD or entities (<!DOCTYPE>/<!ENTITY>), which BPMN files never "
        "need; they are refused because they can read files or blow up memory",
    )


_TOO_DEEP = etree.XPath("boolean(" + "/".join(["*"] * MAX_DEPTH) + ")")
"""Whether an element lies ``MAX_DEPTH`` levels below the root (the root is level one), that
is, nesting deeper than ``MAX_DEPTH``; libxml2 walks the tree, without a Python object per
element. Comments and processing instructions are removed by the parser, so elements are all."""


def _too_deep(root: etree._Element) -> bool:
    return bool(_TOO_DEEP(root))


Children = Mapping[str, list[etree._Element]]
_NO_CHILDREN: Children = MappingProxyType({})
_last: tuple[etree._Element | None, Children] = (None, _NO_CHILDREN)


def children(element: etree._Element) -> Children:
    """The child elements of ``element`` by tag (Clark notation), each list in document order.

    Handlers ask several questions of an element's children (extensions, event definitions,
    loop characteristics...): one pass over them answers all, where each lxml ``find`` or
    ``iterchildren(tag)`` costs more than the whole pass. The answer is remembered for the
    last element asked, as the questions come in a row; holding the element keeps its identity
    from being reused, and the compiler never changes a tree it reads.
    """
    global _last
    last = _last
    if last[0] is element:
        return last[1]
    if not len(element):  # most sequence flows, gateways, plain events
        return _NO_CHILDREN
    found: dict[str, list[etree._Element]] = {}
    # A slice is built in C, faster than lxml's child iterator (lxml-stubs lack slicing).
    for child in element[:]:  # type: ignore[index]
        tag = child.tag
        if isinstance(tag, str):  # not a comment or processing instruction
            if tag in found:
                found[tag].append(child)
            else:
                found[tag] = [child]
    _last = (element, found)
    return found


def first_child(element: etree._Element, tag: str) -> etree._Element | None:
    """The first child of ``element`` named ``tag``, as ``element.find(tag)`` finds it."""
    found = children(element).get(tag)
    return found[0] if found else None


def forget_children() -> None:
    """Drop the element ``children`` remembers (and with it its tree)."""
    global _last
    _last = (None, _NO_CHILDREN)
