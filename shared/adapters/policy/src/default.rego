# scantix's default triage policy
# ===============================
#
# For every security alert scantix receives, this policy decides one of:
#
#   ticket   open or update a ticket for the alert
#   record   keep the alert (audit trail, group membership) but never ticket it
#   ignore   drop the alert entirely (this default policy never ignores anything)
#
# The rules are checked from top to bottom; the FIRST one that matches decides:
#
#   1. Secrets are always ticketed, wherever they were found: a pushed credential is live on
#      every branch, in every fork and in every clone, so no other rule may hide it.
#   2. An alert seen only on a pull request (ref `refs/pull/N/merge` or `refs/pull/N/head`) is
#      recorded: its author is still working, and the pull request is where to talk about it.
#   3. An alert on a branch other than the repository's default branch is recorded.
#      An alert whose ref is unknown counts as on the default branch: Dependabot alerts carry no
#      ref, and GitHub leaves the ref empty on code scanning alerts that a person closed or
#      reopened (the `*_by_user` actions). So does every alert when the default branch is unknown.
#   4. An alert of severity below medium (low, note) is recorded. An alert of unknown severity is
#      NOT: nobody rating an alert is not the same as rating it harmless.
#   5. An alert in test, vendored or generated code is recorded. scantix classifies the path
#      (the code location, or the manifest for a dependency) before this policy runs:
#        test:      directories test/ tests/ __tests__/ __mocks__/ spec/ specs/ testdata/
#                   and files *_test.go *.test.js *.spec.ts (and the other JS/TS extensions)
#                   test_*.py *_test.py conftest.py *_spec.rb *_test.rb
#                   *Test.java *Tests.java (and .kt, .cs)
#        vendored:  directories vendor/ node_modules/ third_party/ third-party/ thirdparty/
#                   bower_components/ Pods/ Carthage/
#        generated: directories generated/ __generated__/ and files *.pb.go *.pb.gw.go *_pb2.py
#                   *_pb2_grpc.py *.pb.cc *.pb.h *.g.dart *.gen.go *_generated.go *.min.js
#                   *.min.css
#      A directory name matches at any depth and in any case (`src/app/__tests__/x.js`,
#      `Tests/x.cs`), except Pods/ and Carthage/, which must be spelt so.
#   6. Everything else is ticketed.
#
# Every decision carries a one-line reason, e.g. "recorded: alert only on pull request #7" or
# "ticketed: high severity on main"; it is kept in the audit trail.
#
# Writing your own policy
# -----------------------
# Put a policy in `.github/scantix.yml` (`policy:` inline or `policy-file:`) to replace this one.
# It must be `package scantix` (Rego v1 syntax) and define `decision`, an object with:
#
#   triage     "ticket" | "draft" | "record" | "ignore"                          (required)
#              ("draft": ticketed, but prepared as a draft that a person pushes to the tracker
#              with `scantix drafts push`, or discards)
#   reason     a short sentence for the audit trail                             (required)
#   priority   "critical" | "high" | "medium" | "low" | "note": overrides the severity the ticket
#              is filed at                                                      (optional)
#   sla_days   days from first seen until the fix is due, instead of the SLA table (optional)
#   group_by   "rule" | "file" | "package" | "advisory" | "alert": overrides the grouping of this
#              alert's kind                                                     (optional)
#
# The input it sees:
#
#   input.finding          the normalised alert: kind ("code_scanning" | "dependabot" |
#                          "secret_scanning"), severity ("critical" ... "note" | "unknown"),
#                          rule.id, rule.name, tool, cwes, location.path, package.name,
#                          package.manifest_path, advisory.ghsa_id, git_ref, state, ...
#   input.default_branch   the repository's default branch ("main"), or null if unknown
#   input.pull_request     the pull request number if the alert is only on a PR, else null
#   input.paths            path (or null), is_test, is_vendor, is_generated: the classification
#                          used by rule 5
#
# Copying this file and editing it is the easiest start. Policies are pure: no clock, no network.

package scantix

import rego.v1

finding := input.finding

severity := finding.severity

# The rules, in order: the first whose body holds gives the decision.
decision := ticket(sprintf("exposed secret (%s)", [secret_type])) if {
	# 1. Secrets, always.
	finding.kind == "secret_scanning"
} else := record(sprintf("alert only on pull request #%d", [input.pull_request])) if {
	# 2. Seen only on a pull request.
	input.pull_request != null
} else := record(sprintf("alert on branch %s, not the default branch %s", [branch, input.default_branch])) if {
	# 3. On another branch.
	not on_default_branch
} else := record(sprintf("%s severity is below medium", [severity])) if {
	# 4. Low and note severities.
	severity in {"low", "note"}
} else := record(sprintf("test code (%s)", [input.paths.path])) if {
	# 5. Test, vendored and generated code.
	input.paths.is_test
} else := record(sprintf("vendored code (%s)", [input.paths.path])) if {
	input.paths.is_vendor
} else := record(sprintf("generated code (%s)", [input.paths.path])) if {
	input.paths.is_generated
} else := ticket(sprintf("%s severity on %s", [severity, branch]))

# 6. Everything else: the final `else` above.

ticket(why) := {"triage": "ticket", "reason": concat("", ["ticketed: ", why])}

record(why) := {"triage": "record", "reason": concat("", ["recorded: ", why])}

# The ref is unknown: a Dependabot alert, or a code scanning alert changed by a person.
ref_unknown if finding.git_ref == null

ref_unknown if finding.git_ref == ""

on_default_branch if ref_unknown

on_default_branch if input.default_branch == null

on_default_branch if {
	input.default_branch != null
	finding.git_ref == concat("", ["refs/heads/", input.default_branch])
}

# The branch named in reasons: the alert's own, else the default branch's name.
branch := trim_prefix(finding.git_ref, "refs/heads/") if not ref_unknown

else := input.default_branch if input.default_branch != null

else := "the default branch"

secret_type := finding.rule.name if finding.rule.name != ""

else := finding.rule.id
