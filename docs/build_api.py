#!/usr/bin/env python
"""Write ``docs/api.md``, foveal's API reference, from the installed package's docstrings.

    python docs/build_api.py            # (re)write docs/api.md
    python docs/build_api.py --check    # exit 1 when docs/api.md differs from what it would write

Standard library only (``inspect``, ``re``) plus the installed ``foveal``. For each public module
it lists every name in ``__all__`` (the public names, sorted, where a module has no ``__all__``),
in that order: functions and classes with their signatures and docstrings, classes with the
public methods and properties they define themselves, constants with their value. An object
re-exported by several modules is documented once, at its first appearance, and linked from the
others. The output depends only on the source: annotations are printed as written (every module
uses ``from __future__ import annotations``), so the check gives the same answer on every Python
and platform.
"""

from __future__ import annotations

import argparse
import difflib
import enum
import importlib
import inspect
import os
import re
import sys
import types
from typing import Any, Dict, List, Optional, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
OUTPUT = os.path.join(HERE, "api.md")

# (module, title): the order of the reference. Optional modules that fail to import are left out.
MODULES: List[Tuple[str, str]] = [
    ("foveal", "build information and threads"),
    ("foveal.image", "image operations (OpenCV-compatible)"),
    ("foveal.image.kernels", "convolution kernels"),
    ("foveal.nn.functional", "CNN operators, forward and backward"),
    ("foveal.nn", "layers and models"),
    ("foveal.nn.layers", "layer building blocks"),
    ("foveal.nn.optimizers", "optimizers"),
    ("foveal.nn.losses", "losses"),
    ("foveal.nn.metrics", "metrics"),
    ("foveal.nn.callbacks", "training callbacks"),
    ("foveal.nn.initializers", "weight initializers"),
    ("foveal.nn.mixed_precision", "mixed precision (bfloat16) policies"),
    ("foveal.data", "data preparation"),
    ("foveal.data.generator", "ImageDataGenerator's differences from Keras"),
    ("foveal.data.iterators", "the iterators: seeds, unreadable files, decoding"),
    ("foveal.data.dataset", "Keras 3 datasets: image_dataset_from_directory, caches"),
    ("foveal.transfer", "pretrained backbones through ONNX Runtime"),
    ("foveal.distributed", "extraction and augmentation on a Ray cluster"),
    ("foveal.utils", "utilities"),
    ("foveal.viz", "pictures with matplotlib"),
]
OPTIONAL = {"foveal.transfer"}

MAX_SIGNATURE = 96        # longer signatures get one parameter per line
MAX_CONSTANT_REPR = 240   # longer constant values are summarized

SECTION_RE = re.compile(r"(Args|Arguments|Attributes|Returns|Raises|Example|Examples|Note|Notes)(::?)")
ITEM_RE = re.compile(r"([A-Za-z_*][\w*]*(?:,\s*[A-Za-z_*][\w*]*)*)(\s*\([^)]*\))?:\s+(.*)")
ROLE_RE = re.compile(r":(?:func|class|meth|mod|data|attr|obj|exc):`(~?)([^`]+)`")
DOUBLE_TICK_RE = re.compile(r"``([^`]+)``")


# ------------------------------------------------------------------------------------------
# Collecting


def public_names(module: types.ModuleType) -> List[str]:
    names = getattr(module, "__all__", None)
    if names is None:
        names = sorted(n for n in vars(module) if not n.startswith("_")
                       and not isinstance(vars(module)[n], types.ModuleType))
    return list(names)


def own_doc(obj: Any) -> Optional[str]:
    """The object's own docstring, cleaned (never one inherited from a base class)."""
    doc = getattr(obj, "__doc__", None)
    if not isinstance(doc, str) or not doc.strip():
        return None
    return inspect.cleandoc(doc)


def kind_of(obj: Any) -> str:
    if isinstance(obj, types.ModuleType):
        return "module"
    if inspect.isclass(obj):
        return "class"
    if callable(obj):
        return "function"
    return "constant"


class Reference:
    """Everything to document, in order, with an anchor per documented object."""

    def __init__(self) -> None:
        self.modules: List[Tuple[str, str, types.ModuleType]] = []
        self.anchor_of: Dict[int, str] = {}     # id(object) -> anchor of its documentation
        self.anchors: Dict[str, Any] = {}        # anchor -> object
        self.missing_docs: List[str] = []        # public names without a docstring

    def load(self) -> None:
        for name, title in MODULES:
            try:
                module = importlib.import_module(name)
            except ImportError:
                if name in OPTIONAL:
                    continue
                raise
            self.modules.append((name, title, module))
        for name, _, module in self.modules:
            self.anchors[name] = module
            for attr in public_names(module):
                obj = getattr(module, attr)
                full = f"{name}.{attr}"
                if kind_of(obj) in ("class", "function") and id(obj) not in self.anchor_of:
                    self.anchor_of[id(obj)] = full
                    self.anchors[full] = obj
                    if inspect.isclass(obj):
                        for member, _, raw in class_members(obj):
                            self.anchors[f"{full}.{member}"] = raw
                elif kind_of(obj) == "constant":
                    self.anchors.setdefault(full, obj)

    def resolve(self, target: str, context: str) -> Optional[str]:
        """The anchor a docstring cross-reference points at, or None."""
        target = target.strip().rstrip("()")
        candidates = [target, f"{context}.{target}"]
        parts = context.split(".")
        for i in range(len(parts) - 1, 0, -1):
            candidates.append(".".join(parts[:i]) + "." + target)
        for c in candidates:
            if c in self.anchors:
                obj = self.anchors[c]
                return self.anchor_of.get(id(obj), c)
        head, _, attr = target.rpartition(".")
        if head:   # a method or property: Class.method
            cls_anchor = self.resolve(head, context)
            if cls_anchor and f"{cls_anchor}.{attr}" in self.anchors:
                return f"{cls_anchor}.{attr}"
        suffix = "." + target
        found = sorted({a for a in self.anchors if a.endswith(suffix)})
        return found[0] if len(found) == 1 else None


# ------------------------------------------------------------------------------------------
# Formatting signatures


def annotation_text(ann: Any) -> str:
    if isinstance(ann, str):
        if len(ann) >= 2 and ann[0] == ann[-1] and ann[0] in "'\"":
            return ann[1:-1]   # a quoted annotation in the source
        return ann
    if inspect.isclass(ann):
        return ann.__qualname__ if ann.__module__ == "builtins" else f"{ann.__module__}.{ann.__qualname__}"
    return repr(ann).replace("typing.", "")


def default_text(value: Any) -> str:
    if isinstance(value, enum.Enum):
        return f"{type(value).__name__}.{value.name}"
    if inspect.isclass(value) or inspect.isfunction(value):
        return value.__qualname__
    text = repr(value)
    if " at 0x" in text:   # an object without a stable repr
        return f"<{type(value).__name__}>"
    return text


def signature_parts(obj: Any, drop_first: bool) -> Optional[Tuple[List[str], str]]:
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return None
    params = list(sig.parameters.values())
    if drop_first and params:
        params = params[1:]
    parts: List[str] = []
    star_done = False   # a bare "*" is needed before the first keyword-only parameter
    for i, p in enumerate(params):
        if p.kind is p.KEYWORD_ONLY and not star_done:
            parts.append("*")
        if p.kind in (p.KEYWORD_ONLY, p.VAR_POSITIONAL):
            star_done = True
        prefix = {p.VAR_POSITIONAL: "*", p.VAR_KEYWORD: "**"}.get(p.kind, "")
        text = prefix + p.name
        if p.annotation is not p.empty:
            text += ": " + annotation_text(p.annotation)
        if p.default is not p.empty:
            text += (" = " if p.annotation is not p.empty else "=") + default_text(p.default)
        parts.append(text)
        last_positional_only = p.kind is p.POSITIONAL_ONLY and (
            i + 1 == len(params) or params[i + 1].kind is not p.POSITIONAL_ONLY)
        if last_positional_only:
            parts.append("/")
    ret = ""
    if sig.return_annotation is not sig.empty:
        ret = " -> " + annotation_text(sig.return_annotation)
    return parts, ret


def format_signature(name: str, obj: Any, drop_first: bool = False, is_class: bool = False) -> str:
    found = signature_parts(obj, drop_first)
    if found is None:
        return f"{name}(...)"
    parts, ret = found
    if is_class:
        ret = ""
    one_line = f"{name}({', '.join(parts)}){ret}"
    if len(one_line) <= MAX_SIGNATURE or not parts:
        return one_line
    body = "".join(f"    {p},\n" for p in parts)
    return f"{name}(\n{body}){ret}"


# ------------------------------------------------------------------------------------------
# Formatting docstrings (Google style and RST literals -> Markdown)


def indent_of(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def inline(text: str, ref: Reference, context: str) -> str:
    def role(m: "re.Match[str]") -> str:
        short, target = m.group(1) == "~", m.group(2)
        shown = target.rpartition(".")[2] if short else target
        anchor = ref.resolve(target, context)
        return f"[`{shown}`](#{anchor})" if anchor else f"`{shown}`"

    text = ROLE_RE.sub(role, text)
    return DOUBLE_TICK_RE.sub(lambda m: f"`{m.group(1)}`", text)


def block_after(lines: List[str], start: int, base: int) -> Tuple[List[str], int]:
    """The lines after ``start`` indented deeper than ``base`` (blank lines included, trailing
    blanks dropped) and the index after them."""
    j = start
    while j < len(lines) and (not lines[j].strip() or indent_of(lines[j]) > base):
        j += 1
    block = lines[start:j]
    while block and not block[-1].strip():
        block.pop()
        j -= 1
    return block, j


def dedent(block: List[str]) -> List[str]:
    widths = [indent_of(l) for l in block if l.strip()]
    cut = min(widths) if widths else 0
    return [l[cut:] if l.strip() else "" for l in block]


def fenced(block: List[str]) -> List[str]:
    body = dedent(block)
    while body and not body[0]:
        body.pop(0)
    return ["", "```python", *body, "```", ""]


def render_items(block: List[str], ref: Reference, context: str) -> List[str]:
    """An Args/Attributes/Raises block as a bullet list (free text stays a paragraph)."""
    body = dedent(block)
    items: List[List[str]] = []
    for line in body:
        if not line.strip():
            continue
        if indent_of(line) == 0:
            items.append([line.strip()])
        elif items:
            items[-1].append(line.strip())
    out: List[str] = []
    for item in items:
        text = " ".join(item)
        m = ITEM_RE.fullmatch(text)
        if m and len(item[0]) > len(m.group(1)):
            names = ", ".join(f"`{n.strip()}`" for n in m.group(1).split(","))
            extra = m.group(2) or ""
            out.append(f"- {names}{extra}: {inline(m.group(3), ref, context)}")
        else:
            out.append(inline(text, ref, context))
    return out


def render_doc(doc: Optional[str], ref: Reference, context: str) -> List[str]:
    if not doc:
        return []
    lines = doc.splitlines()
    out: List[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        m = SECTION_RE.fullmatch(stripped)
        if m and indent_of(line) == 0:
            block, nxt = block_after(lines, i + 1, 0)
            title = m.group(1)
            if title.startswith("Example") or m.group(2) == "::":
                out += ["", f"**{title}:**", *fenced(block)]
            elif title in ("Args", "Arguments", "Attributes", "Raises"):
                out += ["", f"**{title}:**", "", *render_items(block, ref, context), ""]
            else:
                text = " ".join(l.strip() for l in block if l.strip())
                out += ["", f"**{title}:** {inline(text, ref, context)}", ""]
            i = nxt
            continue
        if stripped.endswith("::") and i + 1 < len(lines):
            block, nxt = block_after(lines, i + 1, indent_of(line))
            if block:
                head = line[:-2].rstrip()
                out.append(inline(head + (":" if head.strip() else ""), ref, context))
                out += fenced(block)
                i = nxt
                continue
        out.append(inline(line, ref, context))
        i += 1
    text: List[str] = []
    for l in out:   # collapse runs of blank lines
        if l.strip() or (text and text[-1].strip()):
            text.append(l.rstrip())
    while text and not text[-1]:
        text.pop()
    return text


# ------------------------------------------------------------------------------------------
# Constants


def constant_text(name: str, value: Any) -> str:
    """``NAME = value`` where the value is short and has a stable repr, else ``NAME: what``."""
    try:
        import numpy as np
    except ImportError:   # pragma: no cover - numpy is a dependency of foveal
        np = None
    if np is not None and isinstance(value, np.ndarray):
        if value.size <= 25 and 1 <= value.ndim <= 2:
            rows = value.reshape(-1, value.shape[-1])
            cells = ["[" + ", ".join(f"{float(v):.6g}" for v in row) + "]" for row in rows]
            body = "[" + ", ".join(cells) + "]" if value.ndim == 2 else cells[0]
            return f"{name} = np.array({body}, dtype=np.{value.dtype})"
        return f"{name}: numpy.ndarray, {value.dtype}, {'x'.join(map(str, value.shape))}"
    if isinstance(value, str) and value == getattr(sys.modules.get("foveal"), "__version__", None):
        return f"{name}: str (the package version)"
    text = repr(value)
    if len(text) <= MAX_CONSTANT_REPR and " at 0x" not in text:
        return f"{name} = {text}"
    if isinstance(value, dict):
        items = [f"{k!r}: {v!r}" for k, v in value.items()]
        if len(items) <= 30 and all(len(i) <= 90 and " at 0x" not in i for i in items):
            return f"{name} = {{\n" + "".join(f"    {i},\n" for i in items) + "}"
        return f"{name}: dict with keys {', '.join(repr(k) for k in value)}"
    return f"{name}: {type(value).__name__}"


def constant_comment(name: str, modules: List[types.ModuleType]) -> Optional[str]:
    """A ``#:`` comment block right above the constant's assignment, in the first module's
    source that has one."""
    pattern = re.compile(rf"^{re.escape(name)}\s*(?::[^=]*)?=", re.M)
    for module in modules:
        try:
            source = inspect.getsource(module)
        except (OSError, TypeError):
            continue
        m = pattern.search(source)
        if not m:
            continue
        before = source[:m.start()].splitlines()
        comment: List[str] = []
        while before and before[-1].startswith("#:"):
            comment.insert(0, before.pop()[2:].strip())
        if comment:
            return " ".join(comment)
    return None


# ------------------------------------------------------------------------------------------
# Writing


def anchor_line(anchor: str) -> str:
    return f'<a id="{anchor}"></a>'


def document_function(full: str, name: str, obj: Any, ref: Reference, level: str) -> List[str]:
    doc = own_doc(obj)
    if doc is None:
        ref.missing_docs.append(full)
    return [anchor_line(full), "", f"{level} `{name}`", "", "```python",
            format_signature(name, obj), "```", "", *render_doc(doc, ref, full.rpartition(".")[0]),
            ""]


def class_members(cls: type) -> List[Tuple[str, str, Any]]:
    """(name, kind, object) of the public methods and properties ``cls`` defines itself, in
    definition order; overrides without a docstring of their own are left to the base class."""
    members = []
    for name, raw in cls.__dict__.items():
        if name.startswith("_") and name != "__call__":
            continue
        if isinstance(raw, property):
            kind, func = "property", raw.fget
        elif isinstance(raw, classmethod):
            kind, func = "classmethod", raw.__func__
        elif isinstance(raw, staticmethod):
            kind, func = "staticmethod", raw.__func__
        elif inspect.isfunction(raw):
            kind, func = "method", raw
        else:
            continue
        overrides = any(name in base.__dict__ for base in cls.__mro__[1:])
        if own_doc(func) is None and (overrides or name == "__call__"):
            continue
        members.append((name, kind, raw))
    return members


def document_class(full: str, name: str, cls: type, ref: Reference) -> List[str]:
    doc = own_doc(cls)
    if doc is None:
        ref.missing_docs.append(full)
    out = [anchor_line(full), "", f"### `{name}`", "", "```python",
           "class " + format_signature(name, cls, is_class=True), "```", ""]
    bases = [b for b in cls.__bases__ if b is not object and not b.__name__.startswith("_")
             and b.__module__.startswith("foveal")]
    hidden = [b for b in cls.__bases__ if b.__name__.startswith("_")]
    for h in hidden:   # a private base: name its public ancestors instead
        bases += [b for b in h.__mro__[1:] if b is not object and not b.__name__.startswith("_")
                  and b.__module__.startswith("foveal") and b not in bases][:1]
    if bases:
        links = []
        for b in bases:
            anchor = ref.anchor_of.get(id(b))
            links.append(f"[`{b.__name__}`](#{anchor})" if anchor else f"`{b.__name__}`")
        out += [f"*Bases:* {', '.join(links)}", ""]
    out += [*render_doc(doc, ref, full), ""]
    fields = getattr(cls, "_fields", None)
    if isinstance(fields, tuple) and issubclass(cls, tuple):
        out += ["*Fields:* " + ", ".join(f"`{f}`" for f in fields), ""]
        return out
    undocumented_properties = []
    for member, kind, raw in class_members(cls):
        member_full = f"{full}.{member}"
        if kind == "property" and own_doc(raw.fget) is None:
            ref.missing_docs.append(member_full)
            undocumented_properties.append(f'<a id="{member_full}"></a>`{member}`')
            continue
        if kind == "property":
            func = raw.fget
            header = f"`{member}` *(property)*"
            code = None
        else:
            func = raw.__func__ if kind in ("classmethod", "staticmethod") else raw
            header = f"`{member}`" + (f" *({kind})*" if kind != "method" else "")
            code = format_signature(member, func, drop_first=kind in ("method", "classmethod"))
        doc_m = own_doc(func)
        if doc_m is None:
            ref.missing_docs.append(member_full)
        out += [anchor_line(member_full), "", f"#### {header}", ""]
        if code:
            out += ["```python", code, "```", ""]
        out += [*render_doc(doc_m, ref, full), ""]
    if undocumented_properties:
        out += [f"*Other properties:* {', '.join(undocumented_properties)}", ""]
    return out


def build(ref: Reference) -> str:
    out = ["# API reference", "",
           "<!-- Generated by docs/build_api.py from the docstrings; do not edit by hand. "
           "Regenerate with `python docs/build_api.py`. -->", "",
           "Every public name of every public module, with its signature and docstring. "
           "An object exported by several modules is documented at its first appearance and "
           "linked from the others. The guides ([index](index.md)) explain how the pieces fit "
           "together.", "", "## Modules", ""]
    for name, title, _ in ref.modules:
        out.append(f"- [`{name}`](#{name}): {title}")
    out.append("")
    for name, title, module in ref.modules:
        out += [anchor_line(name), "", f"## `{name}`: {title}", ""]
        out += [*render_doc(own_doc(module), ref, name), ""]
        names = public_names(module)
        listed = [f"[`{n}`](#{ref.anchor_of.get(id(getattr(module, n)), name + '.' + n)})"
                  if kind_of(getattr(module, n)) != "module" else
                  f"[`{n}`](#{getattr(module, n).__name__})" if getattr(module, n).__name__ in ref.anchors
                  else f"`{n}`" for n in names]
        out += ["**Contents:** " + ", ".join(listed), ""]
        package_modules = [module] + [sys.modules[m] for m in sorted(sys.modules)
                                      if m.startswith(name + ".") and sys.modules[m] is not None]
        elsewhere: List[str] = []   # aliases, and re-exports documented in an earlier section
        for attr in names:
            obj = getattr(module, attr)
            full = f"{name}.{attr}"
            kind = kind_of(obj)
            if kind == "module":
                target = obj.__name__
                link = f"[`{target}`](#{target})" if target in ref.anchors else f"`{target}`"
                summary = (own_doc(obj) or "").split("\n\n")[0].replace("\n", " ")
                out += [anchor_line(full) if full != target else "", f"### `{attr}`", "",
                        f"Module {link}. {inline(summary, ref, name)}".rstrip(), ""]
                continue
            if kind == "constant":
                comment = constant_comment(attr, package_modules)
                out += [anchor_line(full), "", f"### `{attr}`", "", "```python",
                        constant_text(attr, obj), "```", ""]
                if comment:
                    out += [inline(comment, ref, name), ""]
                continue
            anchor = ref.anchor_of[id(obj)]
            if anchor != full:
                elsewhere.append(f'- <a id="{full}"></a>`{attr}`: the same object as '
                                 f'[`{anchor}`](#{anchor})')
                continue
            if kind == "class":
                out += document_class(full, attr, obj, ref)
            else:
                out += document_function(full, attr, obj, ref, "###")
        if elsewhere:
            out += ["### Also exported here", "", *elsewhere, ""]
    text: List[str] = []
    for line in out:   # no runs of blank lines, no blank line where an anchor was dropped
        if line.strip() or (text and text[-1].strip()):
            text.append(line.rstrip())
    while text and not text[-1]:
        text.pop()
    return "\n".join(text) + "\n"


def generate() -> Tuple[str, List[str]]:
    ref = Reference()
    ref.load()
    text = build(ref)
    return text, ref.missing_docs


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="exit 1 if docs/api.md is not what this script would write")
    parser.add_argument("--missing", action="store_true",
                        help="also list the public names that have no docstring")
    parser.add_argument("-o", "--output", default=OUTPUT, help="where to write (default: %(default)s)")
    args = parser.parse_args(argv)
    text, missing = generate()
    if args.missing:
        for name in missing:
            print(f"no docstring: {name}", file=sys.stderr)
    if args.check:
        try:
            with open(args.output, encoding="utf-8") as f:
                current = f.read()
        except FileNotFoundError:
            current = ""
        if current == text:
            print(f"{os.path.relpath(args.output)} is up to date")
            return 0
        diff = list(difflib.unified_diff(current.splitlines(), text.splitlines(),
                                         "api.md (on disk)", "api.md (from the docstrings)",
                                         lineterm="", n=1))
        shown = "\n".join(diff[:60]) + ("\n..." if len(diff) > 60 else "")
        print(f"{os.path.relpath(args.output)} is out of date with the docstrings; regenerate it "
              f"with: python docs/build_api.py\n{shown}", file=sys.stderr)
        return 1
    with open(args.output, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    print(f"wrote {os.path.relpath(args.output)} ({len(text.splitlines())} lines)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
