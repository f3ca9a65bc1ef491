import pytest

# chatkit's store suite is not a test module of its own; its asserts should still explain
# themselves when they fail.
pytest.register_assert_rewrite("tests.store._chatkit_suite")
