"""Store desk pages (staff UI under /desk/): pickups, the phone desk, the returns counter."""
