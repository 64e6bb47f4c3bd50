"""The web dashboard and HTTP API; the only package that imports FastAPI, Starlette or
uvicorn. The wiring module runs a :class:`DashboardProcess`, which builds a
:class:`Backend` in a process of its own and serves it with a :class:`WebServer`."""

from __future__ import annotations

from .app import create_app
from .backend import Backend, WebSettings
from .process import DashboardProcess
from .server import WebServer

__all__ = ["Backend", "DashboardProcess", "WebServer", "WebSettings", "create_app"]
