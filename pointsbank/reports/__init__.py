"""The quarterly round: settlement statements, notice boards, rankings, resets and exports."""
