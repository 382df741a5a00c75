"""Real protocol peers: emulated power devices that fence agents are tested against.

Each peer speaks one vendor's documented local protocol on a real socket, holds the power
state of its outlets in a `PowerBoard` and runs a per-outlet hook command when an outlet
switches, so that switching an emulated plug can really power a lab node off and on.
"""
