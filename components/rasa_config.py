"""Rasa's endpoints.yml and credentials.yml as pure functions of the settings.

Rasa-for-Botfront only fetches its config from Botfront when these files are absent from its
working directory (/app), and then loops until Botfront answers (botfront-helm#14, botfront#631).
Rendering them here lets Rasa start on its own and puts every knob in the pull-request diff.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from components.releases import ACTIONS, BOTFRONT, DUCKLING, PORTS

# In-cluster hosts: the names Botfront seeds into its own defaults (private.yaml).
BOTFRONT_GRAPHQL_URL = f"http://{BOTFRONT}:{PORTS[BOTFRONT]}/graphql"
DUCKLING_URL = f"http://{DUCKLING}:{PORTS[DUCKLING]}"


@dataclass(frozen=True)
class RasaConfigInputs:
    """Only what the two files depend on, so a change elsewhere cannot touch them."""

    rasa_url: str
    actions: bool
    max_events: int
    persist_time: int
    regression_test_channel: bool
    chatbase_api_key: str | None = None
    actions_service: str = ACTIONS


def endpoints(inputs: RasaConfigInputs) -> dict[str, Any]:
    tracker_store: dict[str, Any] = {
        "store_type": "rasa_addons.core.tracker_stores.botfront.BotfrontTrackerStore",
        "url": BOTFRONT_GRAPHQL_URL,
        "max_events": inputs.max_events,
        "tracker_persist_time": inputs.persist_time,
    }
    if inputs.chatbase_api_key is not None:
        tracker_store["chatbase_api_key"] = inputs.chatbase_api_key
    config: dict[str, Any] = {
        "nlg": {"type": "rasa_addons.core.nlg.GraphQLNaturalLanguageGenerator", "url": BOTFRONT_GRAPHQL_URL},
        "tracker_store": tracker_store,
    }
    if inputs.actions:
        config["action_endpoint"] = {"url": f"http://{inputs.actions_service}:{PORTS[ACTIONS]}/webhook"}
    return config


def credentials(inputs: RasaConfigInputs) -> dict[str, Any]:
    # base_url is read by the Botfront UI's embedded chat (browser -> rasa), so it must be the
    # public Rasa URL; Rasa itself only reads socketio_path.
    config: dict[str, Any] = {
        "rasa_addons.core.channels.webchat.WebchatInput": {
            "session_persistence": True,
            "base_url": inputs.rasa_url,
            "socket_path": "/socket.io/",
        }
    }
    if inputs.regression_test_channel:
        config["rasa_addons.core.channels.bot_regression_test.BotRegressionTestInput"] = {}
    return config


def render(document: dict[str, Any]) -> str:
    return yaml.safe_dump(document, sort_keys=False, default_flow_style=False)
