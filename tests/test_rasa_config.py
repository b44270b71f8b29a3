"""endpoints.yml and credentials.yml: the content Rasa starts with, per settings."""

from __future__ import annotations

import yaml

from components.model import ModelServer
from components.rasa_config import RasaConfigInputs, credentials, endpoints, render


def inputs(**changes: object) -> RasaConfigInputs:
    base: dict[str, object] = {
        "rasa_url": "https://rasa.example.com",
        "actions": False,
        "max_events": 100,
        "persist_time": 3600,
        "regression_test_channel": True,
    }
    base.update(changes)
    return RasaConfigInputs(**base)  # type: ignore[arg-type]


def test_endpoints_point_nlg_and_tracker_at_botfront_graphql() -> None:
    config = endpoints(inputs(max_events=250, persist_time=600))
    assert config["nlg"] == {
        "type": "rasa_addons.core.nlg.GraphQLNaturalLanguageGenerator",
        "url": "http://botfront:3000/graphql",
    }
    assert config["tracker_store"] == {
        "store_type": "rasa_addons.core.tracker_stores.botfront.BotfrontTrackerStore",
        "url": "http://botfront:3000/graphql",
        "max_events": 250,
        "tracker_persist_time": 600,
    }
    assert "action_endpoint" not in config


def test_action_endpoint_only_with_an_actions_service() -> None:
    assert endpoints(inputs(actions=True))["action_endpoint"] == {"url": "http://actions:5055/webhook"}


def test_models_endpoint_only_with_a_model_server() -> None:
    assert "models" not in endpoints(inputs())
    server = ModelServer(url="https://models.example.com/bf.tar.gz", wait_time_between_pulls=15)
    assert endpoints(inputs(model_server=server))["models"] == {
        "url": "https://models.example.com/bf.tar.gz",
        "wait_time_between_pulls": 15,
    }
    # Unset: the key is left out, so Rasa's own default (100 s) applies.
    server = ModelServer(url="https://models.example.com/bf.tar.gz")
    assert endpoints(inputs(model_server=server))["models"] == {"url": "https://models.example.com/bf.tar.gz"}


def test_chatbase_key_goes_into_the_tracker_store() -> None:
    assert endpoints(inputs(chatbase_api_key="k"))["tracker_store"]["chatbase_api_key"] == "k"


def test_credentials_use_the_public_rasa_url_as_webchat_base_url() -> None:
    config = credentials(inputs(rasa_url="https://chat.example.org"))
    webchat = config["rasa_addons.core.channels.webchat.WebchatInput"]
    assert webchat == {
        "session_persistence": True,
        "base_url": "https://chat.example.org",
        "socket_path": "/socket.io/",
    }
    assert "rasa_addons.core.channels.bot_regression_test.BotRegressionTestInput" in config


def test_legacy_rasa_images_get_no_regression_test_channel() -> None:
    config = credentials(inputs(regression_test_channel=False))
    assert list(config) == ["rasa_addons.core.channels.webchat.WebchatInput"]


def test_render_round_trips_through_yaml() -> None:
    config = endpoints(inputs(actions=True))
    assert yaml.safe_load(render(config)) == config
