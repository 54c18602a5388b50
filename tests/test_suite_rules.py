"""Rules the test suite keeps, checked over its own source: an assert's message is never a hidden check."""

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def test_no_assert_hides_a_check_in_its_message():
    hidden = []
    for path in sorted(TESTS.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Assert) and isinstance(node.msg, ast.BoolOp | ast.Compare | ast.UnaryOp):
                hidden.append(f"{path.name}:{node.lineno}: {ast.unparse(node.msg)}")
    assert hidden == []
