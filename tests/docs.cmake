# The manual page (docs/clmlp.1) against the built command: every subcommand's --help
# options documented in its subsection, the option literals of apps/*.c, the README's
# environment variables and the version in the page, then no groff warning from
# `man --warnings` (skipped, exit 77, where man-db is not installed). Included from
# tests/CMakeLists.txt.
add_test(NAME test_man_page COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/test_man_page.sh $<TARGET_FILE:clmlp_cli>
                                       ${PROJECT_SOURCE_DIR}/docs/clmlp.1 ${PROJECT_SOURCE_DIR})
set_tests_properties(test_man_page PROPERTIES ENVIRONMENT "${CLMLP_TEST_ENV}" SKIP_RETURN_CODE 77 TIMEOUT 300)
