#!/usr/bin/env python3
"""format_name: reads {"name": ...} on stdin, prints {"name": <title-cased name>} on stdout."""
import json
import sys

request = json.load(sys.stdin)
name = " ".join(part.capitalize() for part in str(request["name"]).split())
print(json.dumps({"name": name or "Friend"}))
