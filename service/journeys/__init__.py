"""Journeys: automatic playbooks a program runs on its own (a welcome, a points reminder, a
win-back ladder, a detractor follow-up), and challenges (N visits within a period earn a bonus).

definitions.py is the one schema of a journey (triggers, conditions, actions); the evaluator
reads the changes since its watermark and enters each card into each occurrence at most once.
"""
