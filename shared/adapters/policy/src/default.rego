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
#   4. An alert of severity below medium (low, note) is recorded, unless it is exploited or
#      likely to be (see "Priority by risk" below). An alert of unknown severity is NOT recorded:
#      nobody rating an alert is not the same as rating it harmless.
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
# Priority by risk
# ----------------
# The severity a scanner gives says how bad a problem would be; whether anyone exploits it, or
# can use a leaked secret, says how soon it must go. So, first match wins:
#
#   R1. A CVE in CISA's Known Exploited Vulnerabilities catalogue (`input.kev`, when scantix is
#       given the catalogue): priority one step up (high -> critical), deadline shortened.
#   R2. An EPSS probability of exploitation of 10 % or more within 30 days
#       (`input.finding.advisory.epss.percentage` >= 0.10; Dependabot sends it): the same.
#   R3. A secret found in a public location as well (`input.finding.secret.publicly_leaked`):
#       critical.
#   R4. A secret GitHub's check with its provider found still working
#       (`input.finding.secret.validity` == "active"): critical.
#   R5. A secret the provider reports no longer working (`validity` == "inactive"): priority one
#       step down (high -> medium).
#
# "Deadline shortened": the SLA table's days for the raised priority, and at most half of the
# finding's own severity's (a critical stays critical and gets half its days). Each of these
# sets `priority_reason`, the line the ticket shows under "Why this priority".
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
#   priority_reason  one line saying why the priority is what it is; the ticket shows it (optional)
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
#   input.finding.advisory.epss   {"percentage": 0.944, "percentile": 0.999}: fractions of 1, as
#                          GitHub sends them (Dependabot), or absent
#   input.finding.secret   {"validity": "active" | "inactive" | "unknown" | null,
#                          "publicly_leaked": true | false} (secret scanning), or absent
#   input.kev              the CISA KEV entry of the finding's CVE (cve_id, vendor_project,
#                          product, vulnerability_name, date_added, due_date, known_ransomware),
#                          or null
#   input.sla              days to fix per severity from the settings: critical, high, medium, low
#
# Copying this file and editing it is the easiest start. Policies are pure: no clock, no network.

package scantix

import rego.v1

finding := input.finding

severity := finding.severity

# The triage, with the priority the risk rules give (none of them: the finding's own severity).
decision := object.union(triage, risk)

# The rules, in order: the first whose body holds gives the triage.
triage := ticket(sprintf("exposed secret (%s)", [secret_type])) if {
	# 1. Secrets, always.
	finding.kind == "secret_scanning"
} else := record(sprintf("alert only on pull request #%d", [input.pull_request])) if {
	# 2. Seen only on a pull request.
	input.pull_request != null
} else := record(sprintf("alert on branch %s, not the default branch %s", [branch, input.default_branch])) if {
	# 3. On another branch.
	not on_default_branch
} else := record(sprintf("%s severity is below medium", [severity])) if {
	# 4. Low and note severities, unless exploited or likely to be.
	severity in {"low", "note"}
	not exploited
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

# Priority by risk, R1 to R5 (see the top of this file); `{}` keeps the finding's own severity.
risk := raised(sprintf("%s is in CISA's Known Exploited Vulnerabilities catalogue (added %s)", [input.kev.cve_id, input.kev.date_added])) if {
	# R1. Known exploited.
	input.kev != null
} else := raised(sprintf("EPSS gives it a %v %% chance of exploitation within 30 days", [epss_percent])) if {
	# R2. Likely to be exploited.
	finding.advisory.epss.percentage >= 0.1
} else := critical("the secret was also found in a public location") if {
	# R3. A secret anyone can read.
	finding.secret.publicly_leaked == true
} else := critical("GitHub's check with the provider found the secret still active") if {
	# R4. A secret that works.
	finding.secret.validity == "active"
} else := lowered("the provider reports the secret inactive") if {
	# R5. A secret that no longer works.
	finding.secret.validity == "inactive"
} else := {}

exploited if input.kev != null

exploited if finding.advisory.epss.percentage >= 0.1

# The EPSS probability in percent, to one decimal.
epss_percent := round(finding.advisory.epss.percentage * 1000) / 10

one_up := {"unknown": "high", "note": "medium", "low": "medium", "medium": "high", "high": "critical", "critical": "critical"}

one_down := {"critical": "high", "high": "medium", "medium": "low", "low": "low", "note": "note", "unknown": "unknown"}

raised(why) := {
	"priority": up,
	"priority_reason": sprintf("%s: %s", [change_words(up), why]),
	"sla_days": shortened_days(up),
} if {
	up := one_up[severity]
}

critical(why) := {
	"priority": "critical",
	"priority_reason": sprintf("%s: %s", [change_words("critical"), why]),
}

lowered(why) := {
	"priority": down,
	"priority_reason": sprintf("%s: %s", [change_words(down), why]),
} if {
	down := one_down[severity]
}

# "raised from high", "lowered from high", or "kept at critical".
change_words(to) := sprintf("raised from %s", [severity]) if {
	rank[to] > rank[severity]
} else := sprintf("lowered from %s", [severity]) if {
	rank[to] < rank[severity]
} else := sprintf("kept at %s, deadline shortened", [severity])

rank := {"unknown": 0, "note": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}

# The raised priority's days, and at most half of the finding's own severity's (at least 1).
shortened_days(up) := max([1, min([input.sla[up], floor(own_days / 2)])]) if {
	own_days := object.get(input.sla, severity, input.sla[up])
}
