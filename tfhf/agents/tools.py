"""Tools: what an agent's program may call.

* :class:`Tool` — ``name``, ``description``, ``inputs`` (``{arg: {"type", "description"}}``),
  ``output_type``; ``setup()`` runs once before the first call (load a model there);
  ``__call__`` runs ``forward``. ``save(folder)``, ``push_to_hub(repo_id)`` and
  ``Tool.from_hub(repo_id_or_folder, trust_remote_code=True)`` use the Hub tool format:
  ``tool_config.json`` + the tool's Python file + ``requirements.txt``.
* :func:`tool` — a decorator making a :class:`Tool` of a typed function whose docstring has an
  ``Args:`` section.
* :class:`PipelineTool` — pre_processor / model / post_processor (``encode`` -> ``forward`` ->
  ``decode``) on tfhf models, loaded lazily from ``default_checkpoint`` or the given model.
* :class:`RemoteTool` — the same tool through an HTTP inference endpoint.
* :func:`load_tool` — a curated task name (see :mod:`tfhf.agents.registry`), a folder or a Hub
  repo id.

Code that comes from a folder or a Hub repo runs only with ``trust_remote_code=True``.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import importlib.util
import inspect
import json
import os
import re
import sys
import tempfile
import textwrap
import typing

from ..errors import (ConfigError, InvalidInputError, MissingDependencyError,
                      ModelNotFoundError, TfhfError, UnsupportedModelError)
from .agent_types import AgentAudio, AgentImage, AgentText, unwrap_input, wrap_output

__all__ = ["Tool", "tool", "PipelineTool", "RemoteTool", "load_tool", "ToolError",
           "RemoteCodeError", "TOOL_CONFIG_FILE", "AUTHORIZED_TYPES"]

TOOL_CONFIG_FILE = "tool_config.json"
TOOL_FILE = "tool.py"
AUTHORIZED_TYPES = ("text", "image", "audio", "integer", "number", "boolean", "list", "dict",
                    "any")
_PY_TO_TYPE = {str: "text", int: "integer", float: "number", bool: "boolean", list: "list",
               dict: "dict", AgentText: "text", AgentImage: "image", AgentAudio: "audio"}


class ToolError(TfhfError, ValueError):
    """A tool that is defined wrongly, or cannot be saved or loaded."""


class RemoteCodeError(TfhfError, ValueError):
    """Loading a tool would run Python code from outside tfhf without trust_remote_code=True."""


# ---------------------------------------------------------------------------------- Tool


class Tool:
    """A function an agent can call, with what the LLM needs to know to call it.

    Subclasses set ``name`` (a Python identifier), ``description``, ``inputs`` and
    ``output_type`` and implement ``forward`` (or override ``__call__``). ``setup()`` is
    called once, before the first call.
    """

    name: str = ""
    description: str = "This is a tool that ..."
    inputs: dict = {}
    output_type: str = "any"

    def __init__(self, *args, **kwargs):
        self.is_initialized = False

    def setup(self):
        """Expensive one-time work (loading a model). Called before the first call."""
        self.is_initialized = True

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must implement forward() or __call__().")

    def __call__(self, *args, **kwargs):
        if not getattr(self, "is_initialized", False):
            self.setup()
            self.is_initialized = True
        args = [unwrap_input(a) for a in args]
        kwargs = {k: unwrap_input(v) for k, v in kwargs.items()}
        return wrap_output(self.forward(*args, **kwargs), self.output_type)

    # ---------------------------------------------------------------- checks
    def validate(self):
        """Raise :class:`ToolError` unless name, description, inputs and output_type are sane."""
        name = getattr(self, "name", "")
        if not isinstance(name, str) or not name.isidentifier() or name.startswith("_"):
            raise ToolError(f"{type(self).__name__}.name must be a Python identifier without a "
                            f"leading underscore (the program calls the tool by it), got "
                            f"{name!r}.")
        if not isinstance(self.description, str) or not self.description.strip():
            raise ToolError(f"tool '{name}' needs a description (the LLM reads it).")
        inputs = normalize_inputs(self.inputs, name)
        if self.output_type not in AUTHORIZED_TYPES:
            raise ToolError(f"tool '{name}': output_type {self.output_type!r} is not one of "
                            f"{', '.join(AUTHORIZED_TYPES)}.")
        return inputs

    def __repr__(self):
        return f"<{type(self).__name__} '{self.name}'>"

    # ---------------------------------------------------------------- Hub format
    def save(self, output_dir, task_name=None):
        """Write the tool in the Hub tool format to ``output_dir``.

        Files: ``tool_config.json`` (``tool_class``, name, description, inputs,
        output_type), ``tool.py`` (a standalone module defining the tool class: the class or
        function with the imports, functions and constants of its module that it uses) and
        ``requirements.txt`` (the non-stdlib packages it imports).
        """
        self.validate()
        source, class_name, requirements = tool_source(self)
        os.makedirs(output_dir, exist_ok=True)
        config = {
            "tool_class": f"{TOOL_FILE[:-3]}.{class_name}",
            "name": self.name,
            "description": self.description,
            "inputs": normalize_inputs(self.inputs, self.name),
            "output_type": self.output_type,
        }
        if task_name:
            config["task"] = task_name
        model = getattr(self, "model", None)
        if isinstance(self, PipelineTool) and isinstance(model, str) and \
                model != self.default_checkpoint:
            config["model_repo_id"] = model
        _write_atomic(os.path.join(output_dir, TOOL_FILE), source)
        _write_atomic(os.path.join(output_dir, "requirements.txt"),
                      "".join(f"{r}\n" for r in requirements))
        _write_atomic(os.path.join(output_dir, TOOL_CONFIG_FILE),
                      json.dumps(config, indent=2, sort_keys=True) + "\n")
        return output_dir

    def push_to_hub(self, repo_id: str, commit_message: str = "Upload tool",
                    private: bool | None = None, token=None, create_pr: bool = False,
                    repo_type: str = "space"):
        """Save the tool and upload it to the Hub repo ``repo_id`` (a Space by default, like
        transformers' tools; ``repo_type="model"`` works too). Returns the commit info."""
        from huggingface_hub import HfApi

        api = HfApi(token=token)
        with tempfile.TemporaryDirectory(prefix="tfhf-tool-") as tmp:
            self.save(tmp)
            if repo_type == "space":
                _write_atomic(os.path.join(tmp, "app.py"), _APP_TEMPLATE)
            url = api.create_repo(repo_id, private=private, exist_ok=True, repo_type=repo_type,
                                  **({"space_sdk": "gradio"} if repo_type == "space" else {}))
            repo_id = getattr(url, "repo_id", repo_id)
            return api.upload_folder(repo_id=repo_id, folder_path=tmp, repo_type=repo_type,
                                     commit_message=commit_message, create_pr=create_pr)

    @classmethod
    def from_hub(cls, repo_id, model_repo_id=None, token=None, trust_remote_code=False, *,
                 repo_type=None, revision=None, cache_dir=None, local_files_only=None,
                 **kwargs):
        """Load a tool saved with :meth:`save` / :meth:`push_to_hub` from a folder or a Hub
        repo (a Space or a model repo; the cache is used offline).

        The tool's Python file runs on import, so ``trust_remote_code=True`` is required:
        read the file first. Extra keyword arguments go to the tool's constructor.
        """
        files = _ToolFiles(repo_id, token=token, repo_type=repo_type, revision=revision,
                           cache_dir=cache_dir, local_files_only=local_files_only)
        config = files.config()
        module_name, class_name = _split_tool_class(config, files.describe())
        filename = f"{module_name.replace('.', '/')}.py"
        if not trust_remote_code:
            raise RemoteCodeError(
                f"Loading the tool from {files.describe()} runs the Python code in its file "
                f"'{filename}'. Read that file, then pass trust_remote_code=True to "
                "load_tool / Tool.from_hub if you trust it.")
        path = files.get(filename)
        if path is None:
            raise ToolError(f"{files.describe()}: tool_config.json names the class "
                            f"'{module_name}.{class_name}' but the repo has no file '{filename}'.")
        reqs = files.get("requirements.txt", required=False)
        if reqs:
            _check_requirements(reqs, files.describe())
        module = _import_file(path, files.describe())
        tool_cls = getattr(module, class_name, None)
        if not (isinstance(tool_cls, type) and issubclass(tool_cls, Tool)):
            raise ToolError(f"{files.describe()}: '{filename}' defines no Tool subclass "
                            f"'{class_name}'.")
        model = model_repo_id or config.get("model_repo_id")
        if issubclass(tool_cls, PipelineTool):
            instance = tool_cls(model, token=token, **kwargs)
        else:
            instance = tool_cls(**kwargs)
        for key in ("name", "description", "output_type"):
            if not getattr(instance, key, None) and config.get(key):
                setattr(instance, key, config[key])
        if not getattr(instance, "inputs", None) and config.get("inputs"):
            instance.inputs = config["inputs"]
        instance._tfhf_origin = {"repo_id": os.fspath(repo_id), "trust_remote_code": True,
                                 "model_repo_id": model_repo_id}
        instance.validate()
        return instance


_APP_TEMPLATE = '''"""Gradio demo of this tool (a Space runs it)."""
import gradio as gr

from tfhf.agents import load_tool

tool = load_tool(".", trust_remote_code=True)
gr.Interface(fn=tool, inputs=[gr.Textbox(label=name) for name in tool.inputs],
             outputs=gr.Textbox(), title=tool.name, article=tool.description).launch()
'''


def normalize_inputs(inputs, name="tool") -> dict:
    """``inputs`` as ``{arg: {"type": ..., "description": ...}}`` (transformers 4.29's list of
    types is accepted: ``["text"]`` becomes ``{"input": {"type": "text", ...}}``)."""
    if isinstance(inputs, (list, tuple)):
        keys = ["input"] if len(inputs) == 1 else [f"input{i}" for i in range(len(inputs))]
        inputs = {k: {"type": t, "description": ""} for k, t in zip(keys, inputs)}
    if not isinstance(inputs, dict):
        raise ToolError(f"tool '{name}': inputs must be a dict {{arg: {{'type', "
                        f"'description'}}}}, got {type(inputs).__name__}.")
    out = {}
    for arg, spec in inputs.items():
        if not isinstance(arg, str) or not arg.isidentifier():
            raise ToolError(f"tool '{name}': input name {arg!r} is not an identifier.")
        if isinstance(spec, str):
            spec = {"type": spec, "description": ""}
        if not isinstance(spec, dict) or spec.get("type") not in AUTHORIZED_TYPES:
            raise ToolError(f"tool '{name}': input '{arg}' needs a type among "
                            f"{', '.join(AUTHORIZED_TYPES)}, got {spec!r}.")
        out[arg] = {"type": spec["type"], "description": str(spec.get("description", ""))}
    return out


# ------------------------------------------------------------------------- @tool


class FunctionTool(Tool):
    """A :class:`Tool` made by :func:`tool` from a function."""

    def __init__(self, function, name, description, inputs, output_type):
        super().__init__()
        self.function = function
        self.name = name
        self.description = description
        self.inputs = inputs
        self.output_type = output_type
        self.__doc__ = function.__doc__
        self.__wrapped__ = function

    def forward(self, *args, **kwargs):
        return self.function(*args, **kwargs)


def _type_name(annotation, where):
    if annotation is inspect.Parameter.empty:
        raise ToolError(f"{where} needs a type hint (str, int, float, bool, list, dict, "
                        "AgentImage, AgentAudio or typing.Any).")
    if annotation is typing.Any:
        return "any"
    origin = typing.get_origin(annotation)
    if origin is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _type_name(args[0], where) if len(args) == 1 else "any"
    if origin is not None:
        annotation = origin
    if isinstance(annotation, str):
        return {"str": "text", "int": "integer", "float": "number", "bool": "boolean",
                "list": "list", "dict": "dict"}.get(annotation.split("[")[0], "any")
    return _PY_TO_TYPE.get(annotation, "any")


_SECTION = re.compile(r"^\s*(Args|Arguments|Parameters|Returns|Return|Raises|Yields|Examples?|"
                      r"Notes?)\s*:\s*$")


def parse_docstring(doc: str):
    """``(summary, {arg: description}, returns)`` from a Google-style docstring."""
    doc = inspect.cleandoc(doc or "")
    summary, args, returns = [], {}, []
    section = None
    current = None
    for line in doc.splitlines():
        m = _SECTION.match(line)
        if m:
            section = m.group(1).lower()
            current = None
            continue
        if section is None:
            summary.append(line)
        elif section in ("args", "arguments", "parameters"):
            m = re.match(r"^\s{0,8}(\*{0,2}\w+)\s*(?:\(([^)]*)\))?\s*:\s*(.*)$", line)
            if m and (current is None or len(line) - len(line.lstrip()) <= args[current][1]):
                current = m.group(1).lstrip("*")
                args[current] = [m.group(3).strip(), len(line) - len(line.lstrip())]
            elif current is not None and line.strip():
                args[current][0] = (args[current][0] + " " + line.strip()).strip()
        elif section in ("returns", "return"):
            if line.strip():
                returns.append(line.strip())
    return ("\n".join(summary).strip(), {k: v[0] for k, v in args.items()},
            " ".join(returns).strip())


def tool(function=None, *, name=None, description=None, output_type=None):
    """Make a :class:`Tool` of a typed function whose docstring documents its arguments.

    ``@tool`` or ``@tool(name=..., description=..., output_type=...)``. The docstring's first
    part is the description; its ``Args:`` section gives each input's description (every
    argument must be documented and type-hinted); the return annotation gives the output type.
    """
    def make(fn):
        if not callable(fn) or not hasattr(fn, "__name__"):
            raise ToolError("@tool decorates a function.")
        where = f"@tool function '{fn.__name__}'"
        summary, arg_docs, returns = parse_docstring(fn.__doc__ or "")
        desc = description or summary
        if not desc:
            raise ToolError(f"{where} needs a docstring: a description, then an 'Args:' "
                            "section with one line per argument.")
        if returns and description is None:
            desc = f"{desc} Returns: {returns}"
        try:
            hints = typing.get_type_hints(fn)
        except Exception:  # noqa: BLE001 - unresolvable annotations fall back to the raw ones
            hints = {}
        sig = inspect.signature(fn)
        inputs = {}
        for pname, p in sig.parameters.items():
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                raise ToolError(f"{where}: *args/**kwargs cannot be described to the LLM; "
                                "name every argument.")
            ann = hints.get(pname, p.annotation)
            t = _type_name(ann, f"{where}: argument '{pname}'")
            if pname not in arg_docs:
                raise ToolError(f"{where}: argument '{pname}' is not documented; add "
                                f"'{pname}: <description>' to the docstring's Args: section.")
            inputs[pname] = {"type": t, "description": arg_docs[pname]}
        ret = hints.get("return", sig.return_annotation)
        out = output_type or (_type_name(ret, where) if ret is not inspect.Signature.empty
                              else "any")
        t = FunctionTool(fn, name or fn.__name__, desc, inputs, out)
        t.validate()
        return t

    return make if function is None else make(function)


# ------------------------------------------------------------------------ sources


def _write_atomic(path, text):
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _bound_names(stmt):
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {stmt.name}
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in stmt.names}
    names = set()
    targets = []
    if isinstance(stmt, ast.Assign):
        targets = stmt.targets
    elif isinstance(stmt, (ast.AnnAssign, ast.AugAssign)):
        targets = [stmt.target]
    for t in targets:
        names |= {n.id for n in ast.walk(t) if isinstance(n, ast.Name)}
    return names


def _used_names(node):
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def tool_source(tool_obj):
    """``(module source, class name, requirements)`` that recreate ``tool_obj`` on its own."""
    if isinstance(tool_obj, FunctionTool):
        target = tool_obj.function
        class_name = "".join(p.capitalize() for p in tool_obj.name.split("_")) + "Tool"
    else:
        target = type(tool_obj)
        class_name = target.__name__
    module_name = getattr(target, "__module__", "") or ""
    if module_name.split(".")[0] == "tfhf":  # tfhf's own tools: import them from tfhf
        if isinstance(tool_obj, FunctionTool):  # pragma: no cover - tfhf defines no @tool
            raise ToolError("tfhf's own function tools cannot be saved.")
        return (f'"""Tool file written by tfhf."""\nfrom {module_name} import {class_name}  '
                "# noqa: F401\n", class_name, ["tfhf"])
    module = sys.modules.get(module_name)
    try:
        src = inspect.getsource(module) if module is not None else None
    except (OSError, TypeError):
        src = None
    if not src:
        raise ToolError(f"Cannot save tool '{tool_obj.name}': the source of its module "
                        f"'{module_name}' is not available (define the tool in a .py file).")
    tree = ast.parse(src)
    top = tree.body
    target_index = next((i for i, s in enumerate(top)
                         if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                         and s.name == target.__name__), None)
    if target_index is None:
        raise ToolError(f"Cannot save tool '{tool_obj.name}': '{target.__name__}' is not "
                        f"defined at the top level of {module_name}.")
    binders = {}
    for i, s in enumerate(top):
        for n in _bound_names(s):
            binders.setdefault(n, []).append(i)
    lines = src.splitlines(keepends=True)

    def segment(stmt, keep_decorators=True):
        start = stmt.lineno
        if keep_decorators and getattr(stmt, "decorator_list", None):
            start = min(d.lineno for d in stmt.decorator_list)
        return "".join(lines[start - 1:stmt.end_lineno])

    target_stmt = top[target_index]
    needed = {target_index}
    queue = [target_stmt]
    if isinstance(tool_obj, FunctionTool):  # the decorator is replaced by the class below
        queue = [ast.Module(body=target_stmt.body + list(target_stmt.args.defaults)
                            + [a.annotation for a in target_stmt.args.args if a.annotation]
                            + ([target_stmt.returns] if target_stmt.returns else []),
                            type_ignores=[])]
    while queue:
        node = queue.pop()
        for n in _used_names(node):
            for j in binders.get(n, []):
                if j not in needed and j < len(top):
                    needed.add(j)
                    queue.append(top[j])
    pieces, modules = [], set()
    for i in sorted(needed):
        s = top[i]
        if isinstance(s, ast.ImportFrom) and s.level:
            raise ToolError(f"Cannot save tool '{tool_obj.name}': {module_name} uses a relative "
                            f"import (line {s.lineno}); use an absolute import.")
        if isinstance(s, ast.Import):
            modules |= {a.name.split(".")[0] for a in s.names}
        elif isinstance(s, ast.ImportFrom):
            modules.add(s.module.split(".")[0])
        if i == target_index and isinstance(tool_obj, FunctionTool):
            pieces.append(segment(s, keep_decorators=False))
        else:
            pieces.append(segment(s))
    body = "\n\n".join(p.rstrip("\n") for p in pieces) + "\n"
    header = '"""Tool file written by tfhf (tfhf.agents.Tool.save)."""\n'
    if isinstance(tool_obj, FunctionTool):
        fn = target.__name__
        body += textwrap.dedent(f'''

            from tfhf.agents import Tool as _TfhfTool


            class {class_name}(_TfhfTool):
                name = {tool_obj.name!r}
                description = {tool_obj.description!r}
                inputs = {normalize_inputs(tool_obj.inputs)!r}
                output_type = {tool_obj.output_type!r}

                def forward(self, *args, **kwargs):
                    return {fn}(*args, **kwargs)
            ''')
    requirements = _requirements(modules)
    return header + body, class_name, requirements


def _requirements(modules):
    from importlib import metadata

    stdlib = getattr(sys, "stdlib_module_names", frozenset())
    try:
        dists = metadata.packages_distributions()
    except Exception:  # noqa: BLE001 - metadata scans can fail on broken installs
        dists = {}
    reqs = set()
    for m in modules:
        if m in stdlib or m == "__future__":
            continue
        reqs.update(dists.get(m, [m]))
    reqs.add("tfhf")
    return sorted(reqs)


def _check_requirements(path, where):
    from importlib import metadata

    missing = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.split("#")[0].strip()
            if not line or line.startswith("-"):
                continue
            name = re.split(r"[\s<>=!~;\[]", line, maxsplit=1)[0]
            try:
                metadata.distribution(name)
            except metadata.PackageNotFoundError:
                missing.append(line)
    if missing:
        raise MissingDependencyError(f"The tool from {where} needs packages that are not "
                                     f"installed: {', '.join(missing)}. Install them with "
                                     f"pip install {' '.join(missing)}.")


def _import_file(path, where):
    digest = hashlib.sha256(os.path.abspath(path).encode()).hexdigest()[:16]
    name = f"tfhf_dynamic_tools.t{digest}.{os.path.splitext(os.path.basename(path))[0]}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as e:
        sys.modules.pop(name, None)
        raise ToolError(f"Importing the tool file of {where} failed: {type(e).__name__}: "
                        f"{e}") from e
    return module


def _split_tool_class(config, where):
    tool_class = config.get("tool_class")
    if not isinstance(tool_class, str) or "." not in tool_class:
        raise ToolError(f"{where}: tool_config.json has no 'tool_class' of the form "
                        "'module.ClassName'.")
    module_name, class_name = tool_class.rsplit(".", 1)
    if not all(p.isidentifier() for p in module_name.split(".")) or \
            not class_name.isidentifier():
        raise ToolError(f"{where}: bad tool_class {tool_class!r} in tool_config.json.")
    return module_name, class_name


class _ToolFiles:
    """The files of a saved tool: a local folder, or a Hub repo (Space, then model repo)."""

    def __init__(self, repo_id, token=None, repo_type=None, revision=None, cache_dir=None,
                 local_files_only=None):
        self.repo_id = os.fspath(repo_id)
        self.local = os.path.isdir(self.repo_id)
        self.token = token
        self.repo_types = [repo_type] if repo_type else ["space", "model"]
        self.repo_type = None
        self.revision = revision
        self.cache_dir = cache_dir
        self.local_files_only = local_files_only

    def describe(self):
        if self.local:
            return f"folder '{self.repo_id}'"
        return f"Hub repo '{self.repo_id}'" + (f" ({self.repo_type})" if self.repo_type else "")

    def _download(self, filename, repo_type):
        import huggingface_hub as hh

        kwargs = dict(repo_type=repo_type, revision=self.revision, cache_dir=self.cache_dir,
                      token=self.token)
        if self.local_files_only is not None:
            kwargs["local_files_only"] = self.local_files_only
        return hh.hf_hub_download(self.repo_id, filename, **kwargs)

    def config(self):
        if self.local:
            path = os.path.join(self.repo_id, TOOL_CONFIG_FILE)
            if not os.path.isfile(path):
                raise ModelNotFoundError(f"Folder '{self.repo_id}' has no {TOOL_CONFIG_FILE}: "
                                         "it is not a saved tool (see Tool.save).")
        else:
            if self.repo_id.startswith((".", "/", "~")) or self.repo_id.count("/") > 1:
                raise ModelNotFoundError(f"No tool folder at '{self.repo_id}'.")
            from huggingface_hub import errors as he

            path = None
            problems = []
            for rt in self.repo_types:
                try:
                    path = self._download(TOOL_CONFIG_FILE, rt)
                    self.repo_type = rt
                    break
                except he.HFValidationError:
                    raise ModelNotFoundError(f"'{self.repo_id}' is neither a folder nor a valid "
                                             "Hub repo id.") from None
                except (he.RepositoryNotFoundError, he.EntryNotFoundError,
                        he.RevisionNotFoundError) as e:
                    problems.append(f"{rt}: {type(e).__name__}")
                except he.LocalEntryNotFoundError:
                    problems.append(f"{rt}: not in the local cache")
                except OSError as e:  # network trouble
                    problems.append(f"{rt}: {type(e).__name__}")
            if path is None:
                from huggingface_hub import constants

                hint = (" The Hub is switched off (HF_HUB_OFFLINE=1) and the tool is not in the "
                        "cache; download it once with network access or pass a local folder."
                        if constants.HF_HUB_OFFLINE or self.local_files_only else "")
                raise ModelNotFoundError(f"Could not find {TOOL_CONFIG_FILE} in Hub repo "
                                         f"'{self.repo_id}' ({'; '.join(problems)}).{hint}")
        try:
            with open(path, encoding="utf-8") as f:
                config = json.load(f)
        except (OSError, ValueError) as e:
            raise ToolError(f"{self.describe()}: {TOOL_CONFIG_FILE} cannot be read: {e}") from None
        if not isinstance(config, dict):
            raise ToolError(f"{self.describe()}: {TOOL_CONFIG_FILE} is not a JSON object.")
        if "tool_class" not in config:
            # transformers' first format: {task: {"tool_class", "name", "description"}}
            entries = [v for v in config.values() if isinstance(v, dict) and "tool_class" in v]
            if len(entries) == 1:
                config = entries[0]
            elif entries:
                raise ToolError(f"{self.describe()} holds several tools; this format is not "
                                "supported, save one tool per folder/repo.")
        return config

    def get(self, filename, required=True):
        if ".." in filename.split("/") or filename.startswith("/"):
            raise ToolError(f"{self.describe()}: bad file name {filename!r}.")
        if self.local:
            path = os.path.join(self.repo_id, filename)
            return path if os.path.isfile(path) else None
        from huggingface_hub import errors as he

        try:
            return self._download(filename, self.repo_type)
        except (he.EntryNotFoundError, he.LocalEntryNotFoundError):
            if required:
                raise ModelNotFoundError(f"{self.describe()} has no file '{filename}' (or it "
                                         "is not in the local cache).") from None
            return None


# --------------------------------------------------------------------- PipelineTool


def resolve_model_spec(spec):
    """``(name_or_folder, extra_from_pretrained_kwargs)`` for a model spec.

    A spec is a folder, a Hub repo id, a path to a ``.gguf`` file, or ``"asset:NAME"`` (an
    installed offline asset, see ``tfhf assets``).
    """
    spec = os.fspath(spec)
    if spec.startswith("asset:"):
        from .. import assets

        spec = assets.path(spec[len("asset:"):])
    if os.path.isfile(spec) and spec.lower().endswith(".gguf"):
        folder, name = os.path.split(os.path.abspath(spec))
        return folder, {"gguf_file": name}
    return spec, {}


def _tfhf_attr(value):
    if isinstance(value, str):
        import tfhf

        return getattr(tfhf, value)
    return value


class PipelineTool(Tool):
    """A tool running a tfhf model: ``encode`` (pre_processor) -> ``forward`` (model) ->
    ``decode`` (post_processor).

    Class attributes: ``model_class`` / ``pre_processor_class`` / ``post_processor_class``
    (a class, or the name of a ``tfhf`` attribute such as ``"TFAutoModelForCausalLM"``;
    the processors default to ``tfhf.AutoTokenizer``) and ``default_checkpoint``. Nothing
    loads before the first call (``setup``).
    """

    pre_processor_class = "AutoTokenizer"
    model_class = None
    post_processor_class = "AutoTokenizer"
    default_checkpoint = None

    def __init__(self, model=None, pre_processor=None, post_processor=None, device=None,
                 model_kwargs=None, token=None, **hub_kwargs):
        super().__init__()
        if model is None:
            if self.default_checkpoint is None:
                raise ConfigError(f"{type(self).__name__} has no default checkpoint; pass "
                                  "model=... (a folder or Hub repo id).")
            model = self.default_checkpoint
        self.model = model
        self.pre_processor = model if pre_processor is None else pre_processor
        self.post_processor = post_processor
        self.device = device
        self.model_kwargs = dict(model_kwargs or {})
        self.hub_kwargs = dict(hub_kwargs)
        if token is not None:
            self.hub_kwargs["token"] = token

    def _load(self, cls, spec, extra=None):
        name, spec_kwargs = resolve_model_spec(spec)
        kwargs = {**self.hub_kwargs, **spec_kwargs, **(extra or {})}
        return _tfhf_attr(cls).from_pretrained(name, **kwargs)

    def setup(self):
        if isinstance(self.pre_processor, (str, os.PathLike)):
            self.pre_processor = self._load(self.pre_processor_class, self.pre_processor)
        if isinstance(self.model, (str, os.PathLike)):
            if self.model_class is None:
                raise ConfigError(f"{type(self).__name__}.model_class is not set.")
            self.model = self._load(self.model_class, self.model, self.model_kwargs)
        if self.post_processor is None:
            self.post_processor = self.pre_processor
        elif isinstance(self.post_processor, (str, os.PathLike)):
            self.post_processor = self._load(self.post_processor_class, self.post_processor)
        self.is_initialized = True

    def encode(self, raw_inputs):
        return self.pre_processor(raw_inputs, return_tensors="tf")

    def forward(self, inputs):
        if self.device is not None:
            import tensorflow as tf

            with tf.device(self.device):
                return self.model(inputs)
        return self.model(inputs)

    def decode(self, outputs):
        return self.post_processor(outputs)

    def __call__(self, *args, **kwargs):
        if not self.is_initialized:
            self.setup()
        args = [unwrap_input(a) for a in args]
        kwargs = {k: unwrap_input(v) for k, v in kwargs.items()}
        encoded = self.encode(*args, **kwargs)
        outputs = self.forward(encoded)
        return wrap_output(self.decode(outputs), self.output_type)


# ----------------------------------------------------------------------- RemoteTool

DEFAULT_INFERENCE_ENDPOINT = "https://api-inference.huggingface.co/models"


class RemoteTool(Tool):
    """A tool served by an HTTP inference endpoint (POST JSON, JSON answer).

    ``endpoint_url``: the full URL, or a Hub repo id appended to ``$TFHF_INFERENCE_ENDPOINT``
    (default ``https://api-inference.huggingface.co/models``); default:
    ``default_checkpoint``. Subclasses shape the payload (``prepare_inputs``) and the answer
    (``extract_outputs``). Retries on 429/5xx are bounded; 401 raises
    :class:`~tfhf.agents.LLMAuthenticationError`.
    """

    default_checkpoint = None

    def __init__(self, endpoint_url=None, token=None, tool_class=None, *, timeout=60.0,
                 max_retries=3, backoff=1.0):
        super().__init__()
        endpoint_url = endpoint_url or self.default_checkpoint
        if endpoint_url is None:
            raise ConfigError(f"{type(self).__name__} needs an endpoint_url.")
        endpoint_url = os.fspath(endpoint_url)
        if not endpoint_url.startswith(("http://", "https://")):
            base = os.environ.get("TFHF_INFERENCE_ENDPOINT", DEFAULT_INFERENCE_ENDPOINT)
            endpoint_url = f"{base.rstrip('/')}/{endpoint_url}"
        self.endpoint_url = endpoint_url
        self.token = token
        self.timeout, self.max_retries, self.backoff = timeout, max_retries, backoff
        if tool_class is not None:
            for key in ("name", "description", "inputs", "output_type"):
                setattr(self, key, getattr(tool_class, key))

    def prepare_inputs(self, *args, **kwargs):
        if len(args) > 1:
            raise InvalidInputError(f"{type(self).__name__} takes one positional input.")
        if args:
            return {"inputs": args[0]}
        return {"inputs": kwargs}

    def extract_outputs(self, outputs):
        return outputs

    def __call__(self, *args, **kwargs):
        from ._http import request_json

        args = [unwrap_input(a) for a in args]
        kwargs = {k: unwrap_input(v) for k, v in kwargs.items()}
        payload = self.prepare_inputs(*args, **kwargs)
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        outputs = request_json(self.endpoint_url, payload, headers=headers, timeout=self.timeout,
                               max_retries=self.max_retries, backoff=self.backoff,
                               what=f"the inference endpoint of tool '{self.name or '?'}'")
        if isinstance(outputs, list) and len(outputs) == 1 and isinstance(outputs[0], list):
            outputs = outputs[0]
        return wrap_output(self.extract_outputs(outputs), self.output_type)


# -------------------------------------------------------------------------- load_tool


def load_tool(task_or_repo_id, model_repo_id=None, remote=False, token=None,
              trust_remote_code=False, **kwargs):
    """Load a curated tool by task name, or a saved tool from a folder or Hub repo.

    Args:
        task_or_repo_id: a task of :data:`tfhf.agents.TOOL_REGISTRY` (``"text-classification"``,
            ``"zero-shot-classification"``, ``"text-question-answering"``, ``"summarization"``,
            ``"text-download"``...), a folder written by :meth:`Tool.save`, or a Hub repo id.
        model_repo_id: the checkpoint the tool uses instead of its default (a folder, Hub repo
            id, ``.gguf`` path or ``"asset:NAME"``); for ``remote=True`` an endpoint URL.
        remote: use the tool through an inference endpoint (curated tasks that have one).
        token: Hub token.
        trust_remote_code: required for folders and Hub repos: their Python file runs.
        kwargs: passed to the tool's constructor.
    """
    from .registry import TOOL_REGISTRY, canonical_task

    task = canonical_task(task_or_repo_id)
    if task in TOOL_REGISTRY:
        spec = TOOL_REGISTRY[task]
        if not spec.available:
            raise UnsupportedModelError(f"The tool for '{task}' is not available in tfhf yet: "
                                        f"{spec.note}")
        if remote:
            if spec.remote_class is None:
                raise UnsupportedModelError(f"The '{task}' tool has no remote (inference "
                                            "endpoint) version; use remote=False.")
            cls = spec.load_class(remote=True)
            instance = cls(model_repo_id, token=token, **kwargs)
        else:
            cls = spec.load_class()
            if issubclass(cls, PipelineTool):
                instance = cls(model_repo_id, token=token, **kwargs)
            else:
                instance = cls(**kwargs)
        instance._tfhf_origin = {"task": task, "model_repo_id": model_repo_id,
                                 "remote": bool(remote)}
        return instance
    if remote:
        target = os.fspath(task_or_repo_id)
        if target.startswith(("http://", "https://")):
            instance = RemoteTool(target, token=token, **kwargs)
            return instance
        raise UnsupportedModelError("remote=True works with the curated tasks (or an endpoint "
                                    f"URL); '{target}' is neither.")
    return Tool.from_hub(task_or_repo_id, model_repo_id=model_repo_id, token=token,
                         trust_remote_code=trust_remote_code, **kwargs)
