"""Omnichannel insights for managers: daily rollups (rollups), reading them (selectors), the API
(api), the desk page with its charts (desk, charts)."""
