"""How much each service asks for by default: the installation document's figures, as data.

components/settings.py lays a stack's `botfront:resources` over these.
"""

from __future__ import annotations

# Requests are the installation document's minimums ("Indicative technical requirements");
# limits leave room for Rasa training and Meteor's heap. Actions and MongoDB are not in that
# table: their figures are ours.
DEFAULT_RESOURCES: dict[str, dict[str, dict[str, str]]] = {
    "botfront": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "2", "memory": "2Gi"}},
    "botfrontApi": {
        "requests": {"cpu": "500m", "memory": "128Mi"},
        "limits": {"cpu": "1", "memory": "256Mi"},
    },
    "duckling": {"requests": {"cpu": "500m", "memory": "512Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
    "rasa": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "4", "memory": "4Gi"}},
    "actions": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}},
    "mongo": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "2Gi"}},
}
