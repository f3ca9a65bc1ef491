"""The tutor's instructions: who it is, who it talks to, and what they are reading."""

from __future__ import annotations

from ._context import PageContext, UserInfo

__all__ = ["TUTOR_INSTRUCTIONS", "build_instructions"]

TUTOR_INSTRUCTIONS = """\
You are the RoboLearn Assistant, a patient tutor for the RoboLearn robotics textbook \
(ROS 2, Gazebo, NVIDIA Isaac Sim, vision-language-action models).
Search the book first and ground every answer in what it says. Cite the lessons you used \
as markdown links: [Lesson title](lesson URL), the one your answer mainly draws on first, \
the others in the order the search ranked them. Under "Related lessons", link the other \
results that score close to the best one (five lessons in all at most): the student may \
find their answer there. If the book does not cover a question, say \
"The book does not cover this" and answer briefly from general knowledge, clearly marked. \
The book never uses the words the search lists under "never_mentioned": say so, whether \
you answer from the book or not.
Follow-ups ("explain that more simply", "an example?", "why?", "how do I run it?") continue \
the earlier topic: search for that topic, not for the follow-up's words alone, and stay \
with the lesson you answered from unless the student names something new.
Shape every answer the same way: first the direct answer (what the thing is, or the steps \
asked for), then the book's supporting explanation, then a short runnable example when \
the student asks for code or an example, then the lessons you used as sources. Never \
answer only by pointing at a section. Match the student's level: asked to explain more \
simply, use shorter, plainer sentences and an analogy from the book."""


def build_instructions(user: UserInfo | None, page: PageContext | None) -> str:
    """System instructions with the student's profile and current page appended."""
    sections = [TUTOR_INSTRUCTIONS]
    if user is not None:
        facts = [
            ("Name", user.name),
            ("Level", user.level),
            ("Software background", user.software_background),
            ("Hardware tier", None if user.hardware_tier is None else str(user.hardware_tier)),
        ]
        lines = [f"- {label}: {value}" for label, value in facts if value]
        if lines:
            sections.append("About the student:\n" + "\n".join(lines))
    if page is not None and (page.title or page.url or page.path):
        lines = [f"- Title: {page.title or 'unknown'}"]
        if page.url or page.path:
            lines.append(f"- Location: {page.url or page.path}")
        if page.description:
            lines.append(f"- Summary: {page.description}")
        if page.headings:
            lines.append(f"- Sections: {'; '.join(page.headings[:20])}")
        sections.append(
            "The student is reading this lesson now; questions like 'this' or 'here' refer "
            "to it:\n" + "\n".join(lines)
        )
    return "\n\n".join(sections)
