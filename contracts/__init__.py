"""Contracts shared by every service: settings, event and rate record schemas, reference data.

Why a package of its own: the simulator (producer) and the stream workers (consumer) must import the
same event schema, and the workers and the sink the same rate schema; putting them in either side's
package would make the other depend on it. Nothing here talks to a network or a disk.
"""
