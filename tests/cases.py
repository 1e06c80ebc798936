"""Valid request bodies for every score endpoint, as a clinician's system would send them."""

VALID = {
    "mirels": {"site": "peritrochanteric", "pain": "functional", "lesion": "lytic", "size": "one_to_two_thirds"},
    "sins": {"location": "junctional", "pain": "mechanical", "lesion": "lytic", "alignment": "normal",
             "collapse": "none", "posterolateral": "none"},
    "rades": {"primary": "nsclc", "interval_months": 8, "visceral_metastases": False,
              "motor_function": "ambulatory_with_aid", "deficit_onset_days": 10},
    "tokuhashi": {"karnofsky": 70, "extraspinal_bone_metastases": 2, "vertebral_body_metastases": 1,
                  "visceral_metastases": "none", "primary": "lung", "frankel": "E"},
    "tomita": {"growth": "rapid", "visceral_metastases": "none", "bone_metastases": "multiple"},
}
# total, band and rule id of each VALID body (clinical-rules.md section 1)
EXPECTED = {
    "mirels": (11, "high", "LB-4"),
    "sins": (8, "potentially_unstable", "SP-3"),
    "rades": (5 + 6 + 8 + 9 + 7, "group_2", "MSCC-3"),
    "tokuhashi": (8, "under_6_months", "SURG-4"),
    "tomita": (6, "palliative_surgery", "SURG-5"),
}
