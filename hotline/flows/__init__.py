"""Flows: menus and steps as data, and the engine that moves a conversation through them."""
