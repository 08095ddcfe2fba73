#!/usr/bin/env python3
"""Tool `get_weather`: reads {"city": ...} as JSON on stdin, prints the weather as JSON on stdout.

A deterministic stub (no network): replace the body of weather() with a real API call.
A non-zero exit tells the model the tool failed; anything on stderr goes to the logs."""
import json
import sys


def weather(city):
    return {
        "city": city,
        "temperatureF": 72,
        "condition": "Sunny",
        "summary": f"Sunny in {city} with a light breeze.",
    }


def main():
    request = json.load(sys.stdin)
    city = request.get("city") if isinstance(request, dict) else None
    if not isinstance(city, str) or not city:
        print("get_weather: input needs a non-empty string `city`", file=sys.stderr)
        return 1
    json.dump(weather(city), sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
