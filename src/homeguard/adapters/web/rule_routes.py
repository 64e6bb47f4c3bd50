"""``GET /api/rules``: the site's edge rules, in words, and when each last fired."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from homeguard.core.rule_text import conditions, trigger
from homeguard.core.rulebook import action_name

from .routes import Reader, Web
from .schemas import READ_ERRORS


class RuleDocument(BaseModel):
    name: str
    trigger: str = Field(description="What makes it fire, in words.")
    conditions: list[str] = Field(description="What must hold then, in words.")
    actions: list[str] = Field(description="What it does, in order.")
    last_fired: float | None = Field(description="When it last fired (Unix seconds).")


rules = APIRouter(prefix="/api", tags=["rules"])


@rules.get("/rules", responses=READ_ERRORS)
def rule_list(session: Reader, web: Web) -> list[RuleDocument]:
    """Every configured rule and when it last fired (docs/rules.md)."""
    fired = web.backend.panel.view().panel.rules.last_fired
    return [
        RuleDocument(
            name=rule.name,
            trigger=trigger(rule),
            conditions=conditions(rule),
            actions=[action_name(a) for a in rule.actions],
            last_fired=fired.get(rule.name),
        )
        for rule in web.backend.settings.rules.rules
    ]
