"""Rasa's endpoints.yml and credentials.yml as pure functions of the settings.

Rasa-for-Botfront only fetches its config from Botfront when these files are absent from its
working directory (/app), and then loops until Botfront answers (botfront-helm#14, botfront#631).
Rendering them here lets Rasa start on its own and puts every knob in the pull-request diff.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from components.model import ModelServer
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
    # `projects[].modelServer.<environment>`: where this Rasa pulls its model (see `models`).
    model_server: ModelServer | None = None


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
    if inputs.model_server is not None:
        config["models"] = models(inputs.model_server)
    return config


def models(server: ModelServer) -> dict[str, Any]:
    """Rasa's model server endpoint, the same at every catalog tag (v2.3.3-bf.3, v2.3.3-bf.3-rc.2,
    v2.2.5-bf.5, v1.10.16-bf.1; paths of botfront/rasa-for-botfront@v2.3.3-bf.3):

    - `rasa run --endpoints` reads the `models:` key into `AvailableEndpoints.model`
      (rasa/core/utils.py `read_endpoints`; `EndpointConfig(**content["models"])`,
      rasa/utils/endpoints.py): url, params, headers, basic_auth, token, token_name; any other key
      (wait_time_between_pulls) lands in `kwargs`.
    - With it, `load_agent` pulls from the server and ignores the `--model` path the launcher
      passes (rasa/core/agent.py `load_agent`: `if model_server is not None` comes first; called
      from rasa/core/run.py `load_agent_on_start`). The fork adds nothing here: its only change to
      `rasa run` is where endpoints.yml comes from (rasa/cli/run.py `# botfront:start`,
      rasa/utils/botfront.py), and it is ours.
    - `load_from_server` pulls once at start, then every `wait_time_between_pulls` seconds, 100
      when absent; 0 or null pulls only at start, so a deployment would never reach a running
      Rasa (components/model.py allows 1 to 86400). Each pull is `GET url` with `If-None-Match:
      <current fingerprint>`: 204 or 304 keep the model, 404 and other codes are retried later,
      200 must carry the model archive (tar.gz, else zip: rasa/utils/io.py `unarchive`) and an
      `ETag`, which becomes the fingerprint (`_pull_model_and_fingerprint`). Each new model is
      unpacked into a fresh temporary directory (/tmp) and the previous one is not removed.
    """
    endpoint: dict[str, Any] = {"url": server.url}
    if server.wait_time_between_pulls is not None:
        endpoint["wait_time_between_pulls"] = server.wait_time_between_pulls
    return endpoint


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
