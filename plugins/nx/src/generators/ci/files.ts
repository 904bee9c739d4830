/**
 * The CI files `nx g @kiln/nx:ci` writes, as text: they are meant to be read and kept in the
 * repository, so they carry comments saying what each part is for.
 *
 * Runners build in a `node:20-bookworm` container, privileged (bubblewrap makes namespaces and
 * mounts), as root, with the host tools from Debian 12's packages: the same mmdebstrap, apt and
 * dpkg versions as a Debian 12 workstation, so that CI and developers hash the same tool identity
 * and share cache entries (an Ubuntu runner's tools would hash differently).
 */

/** What kiln's Debian builds run on the host (tools/setup.sh, libs/engine/src/tool-check.ts), without the test-only ones. */
export const HOST_PACKAGES = ['mmdebstrap', 'bubblewrap', 'zstd', 'cpio', 'xz-utils', 'openssl', 'uidmap', 'openssh-client', 'debian-archive-keyring'];

export const NODE_IMAGE = 'node:20-bookworm';

export interface CiFileOptions {
  runners: number;
  target: string;
  /** GitHub: the number of level jobs (the deepest chain of presets the workflow can build). */
  levels: number;
  /** The default branch: only its pushes get the read-write token. */
  branch: string;
}

/**
 * Checks each output of the share against its build manifest (and signature, with
 * KILN_ALLOWED_SIGNERS) before it is published: an output a dependent reads is checked by that
 * build, but the one shipped is read by no one (README, "Outputs restored from a cache are
 * checked before use"). KILN_VERIFY holds `DIRECTORY:PRESET` lines.
 */
export const VERIFY = `printf '%s\\n' "$KILN_VERIFY" | while IFS=: read -r dir preset; do npx kiln verify -C "$dir" -p "$preset" || exit 1; done`;

const apt = `apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ${HOST_PACKAGES.join(' ')}`;

export function githubWorkflow(o: CiFileOptions): string {
  const levelJobs = Array.from({ length: o.levels }, (_, i) => githubLevel(i + 1, o)).join('');
  const outputs = Array.from({ length: o.levels }, (_, i) => `      level${i + 1}: \${{ steps.plan.outputs.level${i + 1} }}`).join('\n');
  return `name: kiln images

on:
  push:
    branches: [${o.branch}]
  pull_request:

permissions:
  contents: read

env:
  # Nx's self-hosted remote cache: set the variable NX_CACHE_URL and the secrets NX_CACHE_RW_TOKEN
  # and NX_CACHE_RO_TOKEN. Only pushes to ${o.branch} may write; pull requests read (a pull request
  # able to write could poison ${o.branch}'s entries: CVE-2025-36852, "CREEP").
  KILN_CACHE_WRITE: \${{ github.event_name == 'push' && github.ref_name == '${o.branch}' }}
  NX_SELF_HOSTED_REMOTE_CACHE_SERVER: \${{ vars.NX_CACHE_URL }}
  NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN: \${{ github.event_name == 'push' && github.ref_name == '${o.branch}' && secrets.NX_CACHE_RW_TOKEN || secrets.NX_CACHE_RO_TOKEN }}
  NX_DAEMON: 'false'
  NX_NO_CLOUD: 'true'

jobs:
  plan:
    # Which presets the change affects, each on a level after the presets it reads, each level
    # shared among ${o.runners} runners (kiln-ci-plan, from @kiln/nx).
    runs-on: ubuntu-latest
    outputs:
      depth: \${{ steps.plan.outputs.depth }}
${outputs}
    steps:
      - uses: actions/checkout@v4
        with:
          fetch-depth: 0
      - uses: actions/setup-node@v4
        with:
          node-version: 20
          cache: npm
      - run: npm ci
      - uses: nrwl/nx-set-shas@v4
        with:
          main-branch-name: ${o.branch}
      - id: plan
        # Read-only runs cannot hand their builds on through the cache: their plan is one level of
        # independent groups of presets.
        run: npx kiln-ci-plan --base="$NX_BASE" --head="$NX_HEAD" --runners=${o.runners} --target=${o.target} --levels=${o.levels} --github-output $([ "$KILN_CACHE_WRITE" = true ] || echo --read-only)
${levelJobs}`;
}

function githubLevel(level: number, o: CiFileOptions): string {
  const needs = level === 1 ? '[plan]' : `[plan, level${level - 1}]`;
  return `
  level${level}:
    # Level ${level}'s shares, one runner each; what earlier levels built comes from the remote cache.
    needs: ${needs}
    if: needs.plan.outputs.level${level} != '[]'
    runs-on: ubuntu-latest
    container:
      image: ${NODE_IMAGE}
      options: --privileged
    strategy:
      fail-fast: false
      matrix:
        share: \${{ fromJSON(needs.plan.outputs.level${level}) }}
    steps:
      - uses: actions/checkout@v4
      - name: Host tools
        run: ${apt}
      - run: npm ci
      - name: Build
        env:
          KILN_PROJECTS: \${{ matrix.share.projects }}
        run: npx nx run-many -t ${o.target} -p "$KILN_PROJECTS" --outputStyle=static
      - name: Check the outputs against their manifests
        env:
          KILN_VERIFY: \${{ matrix.share.verify }}
        run: |
          ${VERIFY}
      - uses: actions/upload-artifact@v4
        with:
          name: kiln-level${level}-\${{ strategy.job-index }}
          path: \${{ matrix.share.outputs }}
          if-no-files-found: error
`;
}

/** .gitlab-ci.yml: the plan job and the trigger of the child pipeline it writes. */
export function gitlabCi(o: CiFileOptions, include: string, pipeline: string): string {
  return `workflow:
  rules:
    # Merge requests read the remote cache; only ${o.branch} writes it (a merge request able to
    # write could poison ${o.branch}'s entries: CVE-2025-36852, "CREEP"). Make NX_CACHE_RW_TOKEN a
    # protected variable too, so that no other ref can read it.
    - if: $CI_PIPELINE_SOURCE == "merge_request_event"
    - if: $CI_COMMIT_BRANCH == "${o.branch}"
      variables:
        KILN_CACHE_WRITE: "true"

include:
  - local: ${include}

stages: [kiln-plan, kiln-images]

kiln plan:
  # Which presets the change affects, each on a level after the presets it reads, each level
  # shared among ${o.runners} runners: written as the child pipeline ${pipeline}.
  extends: .kiln-node
  stage: kiln-plan
  variables:
    GIT_DEPTH: 0
  script:
    - |
      if [ -n "$CI_MERGE_REQUEST_DIFF_BASE_SHA" ]; then set -- --base="$CI_MERGE_REQUEST_DIFF_BASE_SHA" --head=HEAD
      elif [ -n "$CI_COMMIT_BEFORE_SHA" ] && [ "$CI_COMMIT_BEFORE_SHA" != 0000000000000000000000000000000000000000 ]; then set -- --base="$CI_COMMIT_BEFORE_SHA" --head=HEAD
      else set -- --all; fi
      [ "$KILN_CACHE_WRITE" = true ] || set -- "$@" --read-only
      npx kiln-ci-plan "$@" --runners=${o.runners} --target=${o.target} --gitlab-pipeline=${pipeline} --gitlab-include=${include}
  artifacts:
    paths: [${pipeline}]

kiln images:
  stage: kiln-images
  needs: [kiln plan]
  variables:
    KILN_CACHE_WRITE: $KILN_CACHE_WRITE
  trigger:
    include:
      - artifact: ${pipeline}
        job: kiln plan
    strategy: depend
`;
}

/** The job templates the plan job and the child pipeline's jobs extend. */
export function gitlabTemplates(o: CiFileOptions): string {
  return `.kiln-node:
  image: ${NODE_IMAGE}
  cache:
    key:
      files: [package-lock.json]
    paths: [.npm/]
  before_script:
    - npm ci --cache .npm --prefer-offline

.kiln-image:
  # One share of a level (KILN_PROJECTS, set by the child pipeline). bubblewrap needs a privileged
  # container: the runner's config.toml has privileged = true under [runners.docker].
  extends: .kiln-node
  variables:
    NX_SELF_HOSTED_REMOTE_CACHE_SERVER: $NX_CACHE_URL
    NX_DAEMON: "false"
    NX_NO_CLOUD: "true"
  before_script:
    - ${apt}
    - npm ci --cache .npm --prefer-offline
  script:
    - if [ "$KILN_CACHE_WRITE" = true ]; then export NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN="$NX_CACHE_RW_TOKEN"; else export NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN="$NX_CACHE_RO_TOKEN"; fi
    - npx nx run-many -t ${o.target} -p "$KILN_PROJECTS" --outputStyle=static
    - |
      ${VERIFY}
`;
}
