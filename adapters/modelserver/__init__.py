"""A scripted model server speaking the Anthropic, OpenAI and Gemini APIs, for driving real CLIs."""

from adapters.modelserver.recorder import RecordedRequest, Recorder
from adapters.modelserver.scenarios import (
    DEFAULT_EDIT,
    Edit,
    Hang,
    HttpError,
    Loop,
    ReplaceText,
    Scenario,
    ScenarioBook,
    Tokens,
    WriteFile,
)
from adapters.modelserver.server import ModelServer, serve_forever

__all__ = [
    "DEFAULT_EDIT",
    "Edit",
    "Hang",
    "HttpError",
    "Loop",
    "ModelServer",
    "RecordedRequest",
    "Recorder",
    "ReplaceText",
    "Scenario",
    "ScenarioBook",
    "Tokens",
    "WriteFile",
    "serve_forever",
]
