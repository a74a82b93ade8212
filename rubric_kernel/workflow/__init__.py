"""From preparation to announcement: stages, schedule, sign-off, review, publicity, objections, sharing."""
