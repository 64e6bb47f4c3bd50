"""Reading and validating a configuration file."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from homeguard.config import yaml_lines
from homeguard.config.root import Config
from homeguard.errors import ConfigError

CONFIG_FILENAME = "homeguard.yaml"
_EXAMPLE = Path(__file__).parent.parent / "examples" / "house.yaml"
_MAX_ERRORS = 20  # more than this and the rest of the list is noise


def bundled_example() -> Path:
    """The example house shipped with the package."""
    return _EXAMPLE


def default_config_path(directory: Path | None = None) -> Path:
    """``homeguard.yaml`` in ``directory`` (default: the working directory, and then the
    path stays relative, as errors name it) if it exists, otherwise the bundled example
    house."""
    candidate = Path(CONFIG_FILENAME) if directory is None else directory / CONFIG_FILENAME
    return candidate if candidate.exists() else bundled_example()


def load_config(path: Path | str, *, hash_codes: bool = True) -> Config:
    """Read and validate a configuration file; every user mistake is a ConfigError.

    Relative TLS file paths are taken relative to the file's directory. ``hash_codes``
    False: for a command that never checks a code (``status``, ``events``...), plain PINs
    and passwords are checked but not hashed (scrypt, 30 ms each): their users' hashes
    are :data:`~homeguard.core.codes.NO_CODE`, which no code matches.
    """
    source = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError(f"{source}: cannot read the configuration: {reason}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigError(f"{source} line {line}: the file is not UTF-8 text") from None
    return parse_config(text, source, base_dir=Path(path).parent, hash_codes=hash_codes)


def parse_config(
    text: str, source: str = "<string>", *, base_dir: Path | None = None, hash_codes: bool = True
) -> Config:
    """Validate configuration text; ``source`` names it in error messages; ``hash_codes``:
    as :func:`load_config`."""
    try:
        document = yaml_lines.read(text)
    except yaml.YAMLError as exc:
        raise ConfigError(yaml_lines.yaml_problem(exc, source)) from None
    except RecursionError:
        raise ConfigError(f"{source}: the YAML is nested too deeply") from None
    if document.data is None:
        raise ConfigError(f"{source} line 1: the file is empty; it needs at least a section")
    if not document.mapping:
        raise ConfigError(
            f"{source} line {document.line}: the file must be a mapping of sections "
            "(mqtt:, panel:, users:, sensors:, ...)"
        )
    problems = document.repeated
    if not problems:
        context: dict[str, object] = {"hash_codes": hash_codes}
        if base_dir is not None:
            context["base_dir"] = base_dir
        try:
            return Config.model_validate(document.data, context=context)
        except ValidationError as exc:
            errors = exc.errors(include_input=False, include_url=False)
        # The nodes are only needed for the lines of errors (ten times the data's size).
        root = yaml_lines.compose(text)[0]
        assert root is not None  # the text was read once already
        problems = [yaml_lines.locate(root, error, Config) for error in errors]
    # Raised outside any except block: no chained exception can carry an input value.
    problems.sort(key=lambda problem: problem[0])
    lines = [f"{source} line {line}: {message}" for line, message in problems[:_MAX_ERRORS]]
    if len(problems) > _MAX_ERRORS:
        lines.append(f"{source}: ... and {len(problems) - _MAX_ERRORS} more errors")
    raise ConfigError("\n".join(lines))
