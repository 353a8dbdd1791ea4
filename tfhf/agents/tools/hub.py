"""The Hub tool format: ``tool_config.json`` + the tool's Python file + ``requirements.txt``.

:class:`HubFormatMixin` gives :class:`~tfhf.agents.Tool` its ``save``, ``push_to_hub`` and
``from_hub``; :class:`ToolFiles` finds a saved tool's files in a folder or a Hub repo.
Code that comes from a folder or a Hub repo runs only with ``trust_remote_code=True``.
"""

from __future__ import annotations

import json
import os
import tempfile

from ...errors import ModelNotFoundError
from .source import check_requirements, import_file, tool_source, write_atomic
from .spec import TOOL_CONFIG_FILE, TOOL_FILE, RemoteCodeError, ToolError, normalize_inputs


class HubFormatMixin:
    """Saving and loading tools in the Hub tool format (a base class of Tool)."""

    loads_model = False  # PipelineTool: its constructor takes the model (repo id or folder)

    def saved_model_repo_id(self):
        """The checkpoint to record in tool_config.json (None: the tool's default)."""
        return None

    def source_function(self):
        """The function a @tool was made from (its file is saved instead of the class)."""
        return None

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
        model_repo_id = self.saved_model_repo_id()
        if model_repo_id is not None:
            config["model_repo_id"] = model_repo_id
        write_atomic(os.path.join(output_dir, TOOL_FILE), source)
        write_atomic(os.path.join(output_dir, "requirements.txt"),
                     "".join(f"{r}\n" for r in requirements))
        write_atomic(os.path.join(output_dir, TOOL_CONFIG_FILE),
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
                write_atomic(os.path.join(tmp, "app.py"), APP_TEMPLATE)
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
        files = ToolFiles(repo_id, token=token, repo_type=repo_type, revision=revision,
                          cache_dir=cache_dir, local_files_only=local_files_only)
        config = files.config()
        module_name, class_name = split_tool_class(config, files.describe())
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
            check_requirements(reqs, files.describe())
        module = import_file(path, files.describe())
        tool_cls = getattr(module, class_name, None)
        if not (isinstance(tool_cls, type) and issubclass(tool_cls, HubFormatMixin)):
            raise ToolError(f"{files.describe()}: '{filename}' defines no Tool subclass "
                            f"'{class_name}'.")
        model = model_repo_id or config.get("model_repo_id")
        if tool_cls.loads_model:
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


APP_TEMPLATE = '''"""Gradio demo of this tool (a Space runs it)."""
import gradio as gr

from tfhf.agents import load_tool

tool = load_tool(".", trust_remote_code=True)
gr.Interface(fn=tool, inputs=[gr.Textbox(label=name) for name in tool.inputs],
             outputs=gr.Textbox(), title=tool.name, article=tool.description).launch()
'''


def split_tool_class(config, where):
    tool_class = config.get("tool_class")
    if not isinstance(tool_class, str) or "." not in tool_class:
        raise ToolError(f"{where}: tool_config.json has no 'tool_class' of the form "
                        "'module.ClassName'.")
    module_name, class_name = tool_class.rsplit(".", 1)
    if not all(p.isidentifier() for p in module_name.split(".")) or \
            not class_name.isidentifier():
        raise ToolError(f"{where}: bad tool_class {tool_class!r} in tool_config.json.")
    return module_name, class_name


class ToolFiles:
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
        import huggingface_hub

        kwargs = dict(repo_type=repo_type, revision=self.revision, cache_dir=self.cache_dir,
                      token=self.token)
        if self.local_files_only is not None:
            kwargs["local_files_only"] = self.local_files_only
        return huggingface_hub.hf_hub_download(self.repo_id, filename, **kwargs)

    def config(self):
        if self.local:
            path = os.path.join(self.repo_id, TOOL_CONFIG_FILE)
            if not os.path.isfile(path):
                raise ModelNotFoundError(f"Folder '{self.repo_id}' has no {TOOL_CONFIG_FILE}: "
                                         "it is not a saved tool (see Tool.save).")
        else:
            if self.repo_id.startswith((".", "/", "~")) or self.repo_id.count("/") > 1:
                raise ModelNotFoundError(f"No tool folder at '{self.repo_id}'.")
            from huggingface_hub import errors as hub_errors

            path = None
            problems = []
            for rt in self.repo_types:
                try:
                    path = self._download(TOOL_CONFIG_FILE, rt)
                    self.repo_type = rt
                    break
                except hub_errors.HFValidationError:
                    raise ModelNotFoundError(f"'{self.repo_id}' is neither a folder nor a valid "
                                             "Hub repo id.") from None
                except (hub_errors.RepositoryNotFoundError, hub_errors.EntryNotFoundError,
                        hub_errors.RevisionNotFoundError) as e:
                    problems.append(f"{rt}: {type(e).__name__}")
                except hub_errors.LocalEntryNotFoundError:
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
        from huggingface_hub import errors as hub_errors

        try:
            return self._download(filename, self.repo_type)
        except (hub_errors.EntryNotFoundError, hub_errors.LocalEntryNotFoundError):
            if required:
                raise ModelNotFoundError(f"{self.describe()} has no file '{filename}' (or it "
                                         "is not in the local cache).") from None
            return None
