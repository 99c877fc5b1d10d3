#!/usr/bin/env bash
# Refreshes the Swagger UI files that GET /docs serves (embedded in the
# binary from api/docs) from the swagger-ui-dist npm package pinned in
# api/package.json, and records its version and licence beside them.
#   scripts/update-docs-assets.sh            # the pinned version (npm ci)
#   scripts/update-docs-assets.sh 5.36.0     # pin another version first
set -euo pipefail
cd "$(dirname "$0")/../api"
if [ $# -gt 0 ]; then
	npm install --no-audit --no-fund --save-dev --save-exact "swagger-ui-dist@$1"
else
	npm ci --no-audit --no-fund
fi
src=node_modules/swagger-ui-dist
version=$(node -p "require('./$src/package.json').version")
licence=$(node -p "require('./$src/package.json').license")
integrity=$(node -p "require('./package-lock.json').packages['$src'].integrity")
# The source-map comments would make browsers ask for maps the binary does not serve.
sed '/^\/\/# sourceMappingURL=/d' "$src/swagger-ui-bundle.js" > docs/swagger-ui-bundle.js
sed '/^\/\*# sourceMappingURL=/d' "$src/swagger-ui.css" > docs/swagger-ui.css
cp "$src/LICENSE" docs/swagger-ui.LICENSE
cp "$src/NOTICE" docs/swagger-ui.NOTICE
cp "$src/swagger-ui-bundle.js.LICENSE.txt" docs/swagger-ui-bundle.js.LICENSE.txt
cat > docs/SOURCE.md <<EOT
# Swagger UI assets

\`swagger-ui-bundle.js\` and \`swagger-ui.css\` come from the npm package
\`swagger-ui-dist\` $version ($integrity), licence $licence
(\`swagger-ui.LICENSE\`, \`swagger-ui.NOTICE\`; the bundled libraries' notices
are in \`swagger-ui-bundle.js.LICENSE.txt\`). Only their source-map comments
were removed. \`index.html\` and \`docs.js\` are this project's.

Update with \`scripts/update-docs-assets.sh [VERSION]\`.
EOT
echo "swagger-ui-dist $version ($licence) copied to api/docs"
