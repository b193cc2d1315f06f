"""Running the course: lesson runner, profiles, recording, environment report."""
from kit.errors import ProfileError

from .environment import lesson_index, network_status, package_versions, versions_table
from .record import record, recorded
from .runner import plan, run_course, run_lesson, summary_table
from .tables import show

__all__ = ["ProfileError", "lesson_index", "network_status", "package_versions", "plan",
           "record", "recorded", "run_course", "run_lesson", "show", "summary_table", "versions_table"]
