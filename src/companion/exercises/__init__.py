"""Coursework exercises on the two papers: checkers and the tool that writes student copies.

Each exercise is a notebook under ``notebooks/exercises/<paper>/`` that teaches one idea by having
the student compute it. Its cells tagged ``solution`` hold the solution between
``### BEGIN SOLUTION`` and ``### END SOLUTION`` (see :mod:`companion.exercises.strip` for the
convention); its cells tagged ``check`` print the feedback of a checker from this package.

A checker takes the student's answer (and the exercise's data object) and returns a
:class:`~companion.exercises.feedback.Feedback`: ``correct: ...`` or ``not yet: <what is wrong>
Hint: <where to look>``, never the expected value. References are the wings' own code where it
exists (the matcher, the deformable attention layer, the MultiWrite simulator) and pycocotools
for OKS.

=========================  =====================================================================
module                     exercise
=========================  =====================================================================
``oks``                    jcra/01: OKS by hand, checked against pycocotools
``matching``               jcra/02: the Hungarian cost matrix of a small image and its assignment
``deformable``             jcra/03: where a deformable attention head samples, bilinear reads
``link_bytes``             multiwrite/01: per-link bytes of ring, mesh and MultiWrite AllGather
``one_switch``             multiwrite/02: predict, then simulate, multicast on one ideal switch
``dispatch_bytes``         multiwrite/03: MoE dispatch bytes as top-k grows
=========================  =====================================================================

    python -m companion.exercises strip --out build/exercises    # student copies (make exercises)
"""
