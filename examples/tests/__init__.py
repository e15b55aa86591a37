"""Tests of the example processes, written with the bpmn_testing pytest plugin."""
