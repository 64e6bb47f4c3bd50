"""The web dashboard and HTTP API; the only package that imports FastAPI, Starlette or
uvicorn. The wiring module builds a :class:`Backend` and runs a :class:`WebServer`."""

from __future__ import annotations

from .app import create_app
from .backend import Backend, WebSettings
from .server import WebServer

__all__ = ["Backend", "WebServer", "WebSettings", "create_app"]
