"""Texts of the pathway recommendations, keyed by (rule id, action), in English and French."""

from domain.model import Language

T = dict[Language, str]

PATHWAY_TEXTS: dict[tuple[str, str], T] = {
    # Long bone / femoral neck
    ("LB-1", "surgery_then_adjuvant_rt"): {
        "en": "Pathological fracture: surgery (osteosynthesis or arthroplasty), then adjuvant radiotherapy "
              "30 Gy in 10 fractions.",
        "fr": "Fracture pathologique : chirurgie (ostéosynthèse ou arthroplastie), puis radiothérapie adjuvante "
              "30 Gy en 10 fractions."},
    ("LB-5", "percutaneous_fixation_option"): {
        "en": "Option: percutaneous nailing or screwing, with cementoplasty only as an adjunct; discuss in RCP.",
        "fr": "Option : enclouage ou vissage percutané, la cimentoplastie seulement en complément ; discussion "
              "en RCP."},
    ("LB-5", "percutaneous_screw_fixation"): {
        "en": "Lytic lesion with pathological fracture of the pelvis or proximal femur: percutaneous screw "
              "fixation under CT and/or fluoroscopic guidance may be considered; discuss in RCP.",
        "fr": "Lésion lytique avec fracture pathologique du bassin ou du fémur proximal : un vissage percutané "
              "sous guidage scanner et/ou fluoroscopique peut être envisagé ; discussion en RCP."},
    # Spine
    ("SP-1", "whole_spine_mri"): {
        "en": "Vertebral involvement: whole-spine MRI, looking for epiduritis.",
        "fr": "Atteinte vertébrale : IRM du rachis complet, à la recherche d'une épidurite."},
    ("SP-2", "cementoplasty"): {
        "en": "Osteolytic vertebral compression fracture without posterior-wall retropulsion, with uncontrolled "
              "pain: cementoplasty.",
        "fr": "Fracture-tassement vertébrale ostéolytique sans recul du mur postérieur, douleur non contrôlée : "
              "cimentoplastie."},
    ("SP-2", "radiotherapy"): {
        "en": "Mixed or blastic vertebral compression fracture: radiotherapy.",
        "fr": "Fracture-tassement vertébrale mixte ou condensante : radiothérapie."},
    ("SP-3", "surgical_opinion"): {
        "en": "SINS ≥ 7 or threat to the cord: surgical opinion; if operated, adjuvant radiotherapy of the "
              "surgical bed.",
        "fr": "SINS ≥ 7 ou menace médullaire : avis chirurgical ; si chirurgie, radiothérapie adjuvante du lit "
              "opératoire."},
    ("SP-4", "radiotherapy"): {
        "en": "SINS < 7 without threat to the cord: radiotherapy.",
        "fr": "SINS < 7 sans menace médullaire : radiothérapie."},
    # Cord compression
    ("MSCC-1", "adjuvant_radiotherapy"): {
        "en": "Spinal cord compression after neurosurgery: adjuvant radiotherapy.",
        "fr": "Compression médullaire après geste neurochirurgical : radiothérapie adjuvante."},
    ("MSCC-5", "surgery_favoured"): {
        "en": "Surgery favoured (age < 80, Karnofsky > 50, deficit < 24 h); also weigh Tokuhashi ± Tomita, the "
              "time from primary to metastasis, SINS, comorbidities and PD-L1 status. Discuss in RCP.",
        "fr": "Chirurgie à privilégier (âge < 80 ans, Karnofsky > 50, déficit < 24 h) ; tenir compte aussi de "
              "Tokuhashi ± Tomita, du délai primitif–métastase, du SINS, des comorbidités et du statut PD-L1. "
              "Discussion en RCP."},
    ("MSCC-5", "exclusive_radiotherapy"): {
        "en": "Surgery disfavoured (age > 80, Karnofsky < 50 or deficit > 24 h): exclusive radiotherapy.",
        "fr": "Chirurgie non privilégiée (âge > 80 ans, Karnofsky < 50 ou déficit > 24 h) : radiothérapie "
              "exclusive."},
    ("MSCC-5", "rcp_discussion"): {
        "en": "At a boundary of the surgery-selection criteria (80 years, Karnofsky 50 or 24 h): discuss in RCP.",
        "fr": "À la limite des critères de sélection chirurgicale (80 ans, Karnofsky 50 ou 24 h) : discussion "
              "en RCP."},
    # Surgery
    ("SURG-1", "no_surgery"): {
        "en": "Life expectancy under 6 weeks: no benefit of surgery.",
        "fr": "Espérance de vie inférieure à 6 semaines : pas de bénéfice de la chirurgie."},
    ("SURG-2", "stabilisation"): {
        "en": "Life expectancy 6 weeks to 1 year: less aggressive surgery (osteosynthesis, stabilisation); "
              "discuss in RCP.",
        "fr": "Espérance de vie de 6 semaines à 1 an : chirurgie moins agressive (ostéosynthèse, stabilisation) ; "
              "discussion en RCP."},
    ("SURG-3", "resection_reconstruction"): {
        "en": "Life expectancy over 1 year: resection-reconstruction may be considered; discuss in RCP.",
        "fr": "Espérance de vie supérieure à 1 an : une résection-reconstruction peut être envisagée ; "
              "discussion en RCP."},
    ("SURG-6", "favourable_functional_prognosis"): {
        "en": "Factors of a better functional outcome after surgery are present (see values); informational, "
              "not merged into the scores' bands. Discuss in RCP.",
        "fr": "Des facteurs de meilleur pronostic fonctionnel après chirurgie sont présents (voir valeurs) ; "
              "information, non fusionnée avec les stades des scores. Discussion en RCP."},
    # Local vs systemic
    ("SYS-1", "systemic_antiresorptive"): {
        "en": "Multiple bone metastases: systemic treatment with a bone-resorption inhibitor.",
        "fr": "Métastases osseuses multiples : traitement systémique par inhibiteur de la résorption osseuse."},
    ("SYS-2", "local_treatment_options"): {
        "en": "At most 2 metastatic sites: local treatments are usable (radiotherapy, cementoplasty or ablation, "
              "surgery).",
        "fr": "Au plus 2 sites métastatiques : des traitements locaux sont utilisables (radiothérapie, "
              "cimentoplastie ou techniques ablatives, chirurgie)."},
    # Bone-resorption inhibitors
    ("AR-2", "resume_zoledronic_acid"): {
        "en": "Creatinine is back within 10 % of baseline: zoledronic acid may be resumed.",
        "fr": "La créatinine est revenue à moins de 10 % de la valeur de base : l'acide zolédronique peut être "
              "repris."},
    ("AR-4", "pretreatment_checklist"): {
        "en": "Before starting: dental assessment with panoramic X-ray (then every 6 months), renal function, "
              "vitamin D deficiency; calcium 1 g/day and vitamin D 100,000 IU every 3 months.",
        "fr": "Avant de débuter : bilan bucco-dentaire avec panoramique (puis tous les 6 mois), fonction rénale, "
              "recherche d'une carence en vitamine D ; calcium 1 g/j et vitamine D 100 000 UI tous les 3 mois."},
    ("AR-5", "continue_treatment"): {
        "en": "Continue for at least 2 years, then case by case; after 6-12 months of monthly zoledronic acid "
              "it may be spaced to every 12 weeks.",
        "fr": "Poursuivre au moins 2 ans puis au cas par cas ; après 6 à 12 mois d'acide zolédronique mensuel, "
              "espacement possible toutes les 12 semaines."},
    ("AR-6", "bisphosphonate_relay"): {
        "en": "Stopping denosumab taken for more than 6 months: relay with a bisphosphonate (rebound risk); a "
              "specialist opinion may be needed.",
        "fr": "Arrêt d'un dénosumab pris plus de 6 mois : relais par biphosphonate (risque de rebond) ; un avis "
              "spécialisé peut être nécessaire."},
    ("AR-7", "discuss_stopping"): {
        "en": "Beyond 2 years with prolonged bone remission: discuss stopping the bone-resorption inhibitor.",
        "fr": "Au-delà de 2 ans et en rémission osseuse prolongée : discuter l'arrêt de l'anti-résorbeur."},
    # Radiotherapy
    ("RT-1", "palliative_radiotherapy"): {
        "en": "Painful uncomplicated metastasis resistant to analgesics and not accessible to interventional "
              "radiology: palliative radiotherapy (30 Gy/10 fr, 24 Gy/6 fr, 20 Gy/5 fr or 8 Gy/1 fr); expected "
              "effect 3 to 6 months.",
        "fr": "Métastase douloureuse non compliquée, résistante aux antalgiques et non accessible à la radiologie "
              "interventionnelle : radiothérapie palliative (30 Gy/10 fr, 24 Gy/6 fr, 20 Gy/5 fr ou 8 Gy/1 fr) ; "
              "efficacité attendue 3 à 6 mois."},
    ("RT-3", "rt_whole_operated_bone"): {
        "en": "After surgery of a long bone: radiotherapy of the whole operated bone, against recurrence and to "
              "help consolidation.",
        "fr": "Après chirurgie d'un os long : radiothérapie de l'ensemble de l'os opéré, contre la récidive et "
              "pour aider la consolidation."},
    ("RT-3", "rt_surgical_bed"): {
        "en": "After spinal surgery: radiotherapy of the surgical bed, against recurrence and to help "
              "consolidation.",
        "fr": "Après chirurgie rachidienne : radiothérapie du lit opératoire, contre la récidive et pour aider la "
              "consolidation."},
    ("RT-4", "sbrt_candidate"): {
        "en": "Stereotactic radiotherapy may be considered (1-3 well-delimited sites, no visceral metastasis, "
              "stabilised disease, no contraindication); rare: validate in RCP.",
        "fr": "Une radiothérapie stéréotaxique peut être envisagée (1 à 3 sites bien délimités, pas de métastase "
              "viscérale, maladie stabilisée, pas de contre-indication) ; rare : à valider en RCP."},
    # Interventional radiology
    ("IR-2", "percutaneous_ablation_preferred"): {
        "en": "Very large lesion or mostly soft-tissue extension: percutaneous ablation is preferable.",
        "fr": "Lésion très volumineuse ou extension surtout aux parties molles : techniques ablatives "
              "percutanées préférables."},
    ("IR-3", "thermal_ablation"): {
        "en": "Thermal ablation may be proposed (oligometastatic disease and/or inflammatory pain, pain > 4/10 "
              "despite analgesics); 24-48 h stay.",
        "fr": "Une thermo-ablation peut être proposée (maladie oligométastatique et/ou douleur inflammatoire, "
              "douleur > 4/10 malgré les antalgiques) ; hospitalisation de 24 à 48 h."},
    # Imaging
    ("IMG-1", "progression"): {
        "en": "CT (bone window): more osteolysis or soft-tissue invasion means progression.",
        "fr": "Scanner (fenêtre osseuse) : augmentation de l'ostéolyse ou de l'envahissement des parties molles "
              "= progression."},
    ("IMG-1", "response"): {
        "en": "CT (bone window): new sclerosis in a lytic zone or less soft tissue means response.",
        "fr": "Scanner (fenêtre osseuse) : ostéocondensation d'une zone lytique ou diminution des parties molles "
              "= réponse."},
    ("IMG-1", "cannot_conclude"): {
        "en": "CT (bone window): new sclerosis in a previously normal zone cannot be concluded on (it may be the "
              "response of an occult metastasis).",
        "fr": "Scanner (fenêtre osseuse) : ostéocondensation d'une zone initialement normale = impossible de "
              "conclure (possible réponse d'une métastase occulte)."},
    ("IMG-2", "interpret_uptake_with_caution"): {
        "en": "Immunotherapy and bisphosphonates may raise FDG uptake: interpret with caution.",
        "fr": "L'immunothérapie et les biphosphonates peuvent augmenter l'hypermétabolisme : interpréter avec "
              "prudence."},
    ("IMG-3", "no_pet_at_initial_workup"): {
        "en": "No PET-CT at the initial work-up of a tumour already known to be metastatic.",
        "fr": "Pas de TEP-TDM au bilan initial d'une tumeur déjà connue comme métastatique."},
    ("IMG-4", "targeted_mri_and_specialist_opinion"): {
        "en": "Single bone lesion on PET or bone scan: targeted MRI and a specialist opinion.",
        "fr": "Lésion osseuse unique en TEP-TDM ou en scintigraphie : IRM centrée et avis spécialisé."},
    ("IMG-5", "bone_scan_optional"): {
        "en": "Technetium bone scan is optional at the initial work-up.",
        "fr": "La scintigraphie osseuse au technétium est optionnelle au bilan initial."},
    ("IMG-5", "bone_scan_not_indicated"): {
        "en": "Bone scan is not indicated after a PET-FDG (less sensitive).",
        "fr": "La scintigraphie osseuse n'est pas indiquée après une TEP-FDG (moins performante)."},
    ("IMG-6", "flare_not_progression"): {
        "en": "Within 6 months of an effective treatment, more uptake or new foci is a flare, not progression: "
              "do not change treatment.",
        "fr": "Dans les 6 mois d'un traitement efficace, l'accentuation des fixations ou de nouveaux foyers est "
              "un flare, pas une progression : ne pas modifier le traitement."},
    ("IMG-6", "progression"): {
        "en": "Beyond 6 months of treatment, more uptake or new foci means metastatic progression.",
        "fr": "Au-delà de 6 mois de traitement, l'accentuation des foyers ou de nouveaux foyers signe une "
              "progression métastatique."},
    ("IMG-7", "no_routine_bone_scan"): {
        "en": "No routine bone scan in follow-up without new bone pain.",
        "fr": "Pas de scintigraphie osseuse systématique au cours du suivi en l'absence de nouvelle douleur "
              "osseuse."},
    ("IMG-8", "edta_decalcification"): {
        "en": "Bone biopsy for molecular testing: decalcify with EDTA.",
        "fr": "Biopsie osseuse pour analyse moléculaire : décalcification à l'EDTA."},
    # Clinical trials
    ("TRIAL-1", "consider_trial_inclusion"): {
        "en": "PRISM (CHU Besançon) is open: consider inclusion.",
        "fr": "PRISM (CHU Besançon) est ouvert : envisager l'inclusion."},
    ("TRIAL-2", "consider_trial_inclusion"): {
        "en": "STEREO-OS (UNICANCER, phase III SBRT for 1-3 bone metastases) is open: consider inclusion.",
        "fr": "STEREO-OS (UNICANCER, phase III de SBRT pour 1 à 3 métastases osseuses) est ouvert : envisager "
              "l'inclusion."},
    ("TRIAL-3", "consider_trial_inclusion"): {
        "en": "Telocap02 (CHRU Besançon) is open: consider inclusion.",
        "fr": "Telocap02 (CHRU Besançon) est ouvert : envisager l'inclusion."},
    # Section 4 (SAFE-*): negative decisions, composed answers, values in the text. SAFE-14, the whole guideline
    # text: RT-2's wait states the regimen and the earliest start, its 8 Gy option "when organs at risk can be
    # excluded"; IR-1 names antiplatelet agents; AR-2 "caution with other nephrotoxic drugs".
    ("LB-5", "percutaneous_fixation_option_without_cementoplasty"): {
        "en": "Option: percutaneous nailing or screwing without cementoplasty (infection at the puncture site or "
              "uncontrolled sepsis); discuss in RCP.",
        "fr": "Option : enclouage ou vissage percutané sans cimentoplastie (infection au point de ponction ou "
              "sepsis non contrôlé) ; discussion en RCP."},
    ("LB-5", "cementoplasty_adjunct"): {
        "en": 'Cementoplasty as an adjunct to percutaneous nailing or screwing.',
        "fr": "Cimentoplastie en complément d'un enclouage ou d'un vissage percutané."},
    ("SP-2", "cementoplasty_contraindicated"): {
        "en": 'Osteolytic vertebral compression fracture: cementoplasty is contraindicated at this vertebra.',
        "fr": 'Fracture-tassement vertébrale ostéolytique : cimentoplastie contre-indiquée à cette vertèbre.'},
    ("SP-2", "cementoplasty_not_indicated"): {
        "en": 'Osteolytic vertebral compression fracture: cementoplasty is not indicated.',
        "fr": "Fracture-tassement vertébrale ostéolytique : pas d'indication de cimentoplastie."},
    ("MSCC-1", "emergency_radiotherapy"): {
        "en": "Spinal cord compression: emergency radiotherapy, exclusive or adjuvant after decompressive surgery "
              "as the RCP decides (MSCC-5).",
        "fr": "Compression médullaire : irradiation en urgence, exclusive ou adjuvante après chirurgie de "
              "décompression selon la décision de la RCP (MSCC-5)."},
    ("MSCC-1", "exclusive_emergency_radiotherapy"): {
        "en": 'Spinal cord compression, surgery not favoured: exclusive emergency radiotherapy.',
        "fr": 'Compression médullaire, chirurgie non privilégiée : irradiation exclusive en urgence.'},
    ("MSCC-1", "surgery_then_adjuvant_radiotherapy"): {
        "en": "Spinal cord compression, surgery favoured (MSCC-5): emergency decompressive surgery, then adjuvant "
              "radiotherapy.",
        "fr": "Compression médullaire, chirurgie privilégiée (MSCC-5) : chirurgie de décompression en urgence, puis "
              "radiothérapie adjuvante."},
    ("SURG-1", "radiotherapy_instead_of_surgery"): {
        "en": "Life expectancy under 6 weeks: no surgery for this lesion; radiotherapy (a single 8 Gy fraction "
              "suits a low life expectancy), analgesia and supportive care.",
        "fr": "Espérance de vie inférieure à 6 semaines : pas de chirurgie pour cette lésion ; radiothérapie (une "
              "séance unique de 8 Gy convient à une espérance de vie faible), antalgiques et soins de support."},
    ("AR-1", "start_antiresorptive"): {
        "en": "Bone metastasis with life expectancy over 3 months: start a bone-resorption inhibitor, for at least "
              "2 years (AR-5).",
        "fr": "Métastase osseuse et espérance de vie supérieure à 3 mois : débuter un inhibiteur de la résorption "
              "osseuse, pour au moins 2 ans (AR-5)."},
    ("AR-1", "start_after_dental_assessment"): {
        "en": "Bone metastasis with life expectancy over 3 months, not urgent: start a bone-resorption inhibitor "
              "once the dental assessment with panoramic X-ray is done (AR-4 checklist first), for at least 2 years "
              "(AR-5).",
        "fr": "Métastase osseuse et espérance de vie supérieure à 3 mois, sans urgence : débuter un inhibiteur de "
              "la résorption osseuse après le bilan bucco-dentaire avec panoramique (bilan AR-4 d'abord), pour au "
              "moins 2 ans (AR-5)."},
    ("AR-1", "antiresorptive_not_indicated"): {
        "en": 'A bone-resorption inhibitor is not indicated.',
        "fr": "Pas d'indication d'inhibiteur de la résorption osseuse."},
    ("AR-2", "zoledronic_acid"): {
        "en": "Zoledronic acid {dose} mg IV every 4 weeks (creatinine clearance {clearance} mL/min, "
              "Cockcroft–Gault), infused over at least 15 min, hydration that day and the next; paracetamol that "
              "day and the next against the flu-like syndrome; check creatinine before each dose; caution with "
              "other nephrotoxic drugs.",
        "fr": "Acide zolédronique {dose} mg IV toutes les 4 semaines (clairance de la créatinine {clearance} "
              "mL/min, Cockcroft–Gault), perfusion d'au moins 15 min, hydratation le jour et le lendemain ; "
              "paracétamol le jour et le lendemain contre le syndrome pseudo-grippal ; créatinine avant chaque dose "
              "; prudence avec les autres médicaments néphrotoxiques."},
    ("AR-2", "zoledronic_acid_not_given"): {
        "en": 'Zoledronic acid is not given; denosumab is proposed.',
        "fr": "Pas d'acide zolédronique ; le dénosumab est proposé."},
    ("AR-2", "renal_dosing_information"): {
        "en": "For information only, not a dose to give (the start is not indicated or not decided): creatinine "
              "clearance {clearance} mL/min (Cockcroft–Gault); the label's zoledronic-acid band is {dose} mg.",
        "fr": "Pour information seulement, pas une dose à administrer (initiation non indiquée ou non décidée) : "
              "clairance de la créatinine {clearance} mL/min (Cockcroft–Gault) ; la tranche du résumé des "
              "caractéristiques du produit pour l'acide "
              "zolédronique est {dose} mg."},
    ("AR-2", "renal_dosing_information_under_30"): {
        "en": "For information only (the start is not indicated or not decided): creatinine clearance {clearance} "
              "mL/min (Cockcroft–Gault); under 30 mL/min zoledronic acid is not given.",
        "fr": "Pour information seulement (initiation non indiquée ou non décidée) : clairance de la créatinine "
              "{clearance} mL/min (Cockcroft–Gault) ; en dessous de 30 mL/min, pas d'acide zolédronique."},
    ("AR-2", "withhold_zoledronic_acid"): {
        "en": "Withhold zoledronic acid; resume when creatinine is back within 10 % of baseline (at or below "
              "{resume}).",
        "fr": "Suspendre l'acide zolédronique ; le reprendre quand la créatinine est revenue à moins de 10 % de la "
              "valeur de base (au plus {resume})."},
    ("AR-3", "denosumab"): {
        "en": "Denosumab 120 mg SC every 4 weeks, no renal adjustment, with systematic calcium and vitamin D; "
              "correct any hypocalcaemia before the first dose and monitor calcium.",
        "fr": "Dénosumab 120 mg SC toutes les 4 semaines, sans adaptation rénale, avec calcium et vitamine D "
              "systématiques ; corriger toute hypocalcémie avant la première dose et surveiller la calcémie."},
    ("RT-2", "postoperative_radiotherapy"): {
        "en": "Post-operative radiotherapy now (day 15 to 21 after surgery, healed skin): usually 30 Gy in 10 "
              "fractions; 8 Gy single dose as an option for long bones, low life expectancy or patients hard to "
              "move, when organs at risk can be excluded from the fields.",
        "fr": "Radiothérapie post-opératoire maintenant (J15 à J21 après la chirurgie, peau cicatrisée) : le plus "
              "souvent 30 Gy en 10 fractions ; 8 Gy en séance unique en option pour les os longs, une espérance de "
              "vie faible ou un patient difficile à mobiliser, si les organes à risque peuvent être exclus des "
              "champs."},
    ("RT-2", "postoperative_radiotherapy_wait"): {
        "en": "Post-operative radiotherapy not yet: earliest start {earliest} (day 15 after surgery), on healed "
              "skin; then usually 30 Gy in 10 fractions, 8 Gy single dose as an option for long bones, low life "
              "expectancy or patients hard to move, when organs at risk can be excluded from the fields.",
        "fr": "Pas encore de radiothérapie post-opératoire : début au plus tôt le {earliest} (J15 après la "
              "chirurgie), sur peau cicatrisée ; puis le plus souvent 30 Gy en 10 fractions, 8 Gy en séance unique "
              "en option pour les os longs, une espérance de vie faible ou un patient difficile à mobiliser, si les "
              "organes à risque peuvent être exclus des champs."},
    ("RT-4", "not_eligible_sbrt"): {
        "en": 'Stereotactic radiotherapy: not eligible.',
        "fr": "Radiothérapie stéréotaxique : pas d'indication."},
    ("IR-1", "cementoplasty"): {
        "en": "Cementoplasty is indicated; check coagulation and manage anticoagulants and antiplatelet agents "
              "first; discuss in RCP.",
        "fr": "Cimentoplastie indiquée ; vérifier la coagulation et gérer les anticoagulants et antiagrégants "
              "plaquettaires au préalable ; discussion en RCP."},
    ("IR-1", "cementoplasty_contraindicated"): {
        "en": 'Cementoplasty is contraindicated.',
        "fr": 'Cimentoplastie contre-indiquée.'},
    ("IR-1", "cementoplasty_not_indicated"): {
        "en": 'Cementoplasty is not indicated.',
        "fr": "Pas d'indication de cimentoplastie."},
    ("IR-3", "not_eligible_ablation"): {
        "en": 'Thermal ablation: not eligible.',
        "fr": "Thermo-ablation : pas d'indication."},
    ("IMG-2", "postpone_pet"): {
        "en": 'No PET-FDG within 15 days after G-CSF: postpone it to {earliest} at the earliest.',
        "fr": 'Pas de TEP-FDG dans les 15 jours qui suivent le G-CSF : la reporter au {earliest} au plus tôt.'},
    ("SURG-1", "radiotherapy_instead_of_surgery_cord_compression"): {
        "en": "Life expectancy under 6 weeks: no surgery for this compressing lesion; the emergency radiotherapy of "
              "the cord compression (MSCC-1, its dose by the Rades group) leads, with analgesia and supportive care.",
        "fr": "Espérance de vie inférieure à 6 semaines : pas de chirurgie pour cette lésion compressive ; "
              "l'irradiation en urgence de la compression médullaire (MSCC-1, dose selon le groupe de Rades) prime, "
              "avec antalgiques et soins de support."},
    ("SP-2", "cementoplasty_of_the_fracture"): {
        "en": "Cementoplasty of this osteolytic vertebral compression fracture, for uncontrolled pain.",
        "fr": "Cimentoplastie de cette fracture-tassement vertébrale ostéolytique, pour une douleur non contrôlée."},
    ("AR-2", "zoledronic_acid_not_dosed"): {
        "en": "Zoledronic acid: no dose from an implausible creatinine clearance; check the creatinine, its unit and "
              "the weight, then evaluate again.",
        "fr": "Acide zolédronique : pas de dose calculée sur une clairance peu plausible ; vérifier la créatinine, "
              "son unité et le poids, puis réévaluer."},
    ("AR-6", "relay_needs_specialist_opinion"): {
        "en": "Stopping denosumab taken for more than 6 months: a bisphosphonate relay is needed against the "
              "rebound, but the kidneys forbid zoledronic acid here; ask a specialist's opinion.",
        "fr": "Arrêt d'un dénosumab pris plus de 6 mois : un relais par biphosphonate est nécessaire contre le "
              "rebond, mais la fonction rénale interdit ici l'acide zolédronique ; solliciter un avis spécialisé."},
}

PATHWAY_WARNINGS: dict[str, T] = {
    "mirels_not_for_established_fracture": {
        "en": "Mirels scores impending fractures; with an established fracture the lesion is routed by fracture "
              "and site (LB-1, LB-5) and the Mirels score is not used.",
        "fr": "Le score de Mirels évalue le risque de fracture ; en cas de fracture avérée, la lésion est orientée "
              "par la fracture et le site (LB-1, LB-5) et le score de Mirels n'est pas utilisé."},
    "cementoplasty_long_bone_adjunct_only": {
        "en": "In weight-bearing long bones, cementoplasty is not used alone; only as an adjunct to nailing or "
              "screwing.",
        "fr": "Dans les os longs porteurs, la cimentoplastie n'est pas utilisée seule ; seulement en complément "
              "d'un enclouage ou d'un vissage."},
    "boundary_mscc_age_80": {
        "en": "Age exactly 80: the guideline's surgery criteria (< 80 / > 80) leave it unassigned; discuss in RCP.",
        "fr": "Âge d'exactement 80 ans : les critères chirurgicaux (< 80 / > 80) ne l'attribuent pas ; RCP."},
    "boundary_mscc_karnofsky_50": {
        "en": "Karnofsky exactly 50: the guideline's surgery criteria (> 50 / < 50) leave it unassigned; discuss "
              "in RCP.",
        "fr": "Karnofsky d'exactement 50 : les critères chirurgicaux (> 50 / < 50) ne l'attribuent pas ; RCP."},
    "boundary_mscc_deficit_24_hours": {
        "en": "Deficit of exactly 24 h: the guideline's surgery criteria (< 24 h / > 24 h) leave it unassigned; "
              "discuss in RCP.",
        "fr": "Déficit d'exactement 24 h : les critères chirurgicaux (< 24 h / > 24 h) ne l'attribuent pas ; RCP."},
    "boundary_life_expectancy_6_weeks": {
        "en": "Life expectancy of exactly 6 weeks: read inclusively as '6 weeks to 1 year' (SURG-2).",
        "fr": "Espérance de vie d'exactement 6 semaines : lue inclusivement « entre 6 semaines et 1 an » (SURG-2)."},
    "boundary_life_expectancy_1_year": {
        "en": "Life expectancy of exactly 1 year: read inclusively as '6 weeks to 1 year' (SURG-2).",
        "fr": "Espérance de vie d'exactement 1 an : lue inclusivement « entre 6 semaines et 1 an » (SURG-2)."},
    "boundary_life_expectancy_3_months": {
        "en": "Life expectancy of exactly 3 months: the guideline says '> 3 months'; the inhibitor is not started.",
        "fr": "Espérance de vie d'exactement 3 mois : le référentiel dit « > 3 mois » ; pas d'initiation."},
    "zoledronic_acid_renal_contraindication": {
        "en": "Creatinine clearance under 30 mL/min: zoledronic acid is contraindicated (not given).",
        "fr": "Clairance de la créatinine inférieure à 30 mL/min : acide zolédronique contre-indiqué (non "
              "administré)."},
    "boundary_baseline_creatinine_1_4": {
        "en": "Baseline creatinine of exactly 1.4 mg/dL: the label's normal (< 1.4) and abnormal (> 1.4) leave it "
              "unassigned; the stricter 0.5 mg/dL withhold threshold is applied.",
        "fr": "Créatinine de base d'exactement 1,4 mg/dL : le résumé des caractéristiques du produit ne "
              "l'attribue ni à la normale (< 1,4) ni à "
              "l'anormale (> 1,4) ; le seuil le plus strict (0,5 mg/dL) est appliqué."},
    "postop_rt_skin_not_healed": {
        "en": "Post-operative radiotherapy waits for healed skin.",
        "fr": "La radiothérapie post-opératoire attend une peau cicatrisée."},
    "postop_rt_window_passed": {
        "en": "More than 21 days since surgery: the post-operative window (day 15 to 21) has passed; start without "
              "further delay.",
        "fr": "Plus de 21 jours depuis la chirurgie : la fenêtre post-opératoire (J15 à J21) est dépassée ; "
              "débuter sans délai supplémentaire."},
    "sbrt_sins_potentially_unstable": {
        "en": "SINS 7-12 (potentially unstable): a surgical opinion comes before stereotactic radiotherapy.",
        "fr": "SINS 7 à 12 (potentiellement instable) : un avis chirurgical précède la radiothérapie "
              "stéréotaxique."},
    "sbrt_recent_rt_other_site": {
        "en": "Radiotherapy within 3 months at another site: not a contraindication to SBRT of this site, but "
              "weigh it in RCP.",
        "fr": "Radiothérapie de moins de 3 mois sur un autre site : pas de contre-indication à la SBRT de ce "
              "site, mais à considérer en RCP."},
    "boundary_canal_narrowing_25_percent": {
        "en": "Canal narrowing of exactly 25 %: the contraindication is '> 25 %'; not a contraindication.",
        "fr": "Rétrécissement canalaire d'exactement 25 % : la contre-indication est « > 25 % » ; pas de "
              "contre-indication."},
    "boundary_cord_distance_5_mm": {
        "en": "Tumour-cord distance of exactly 5 mm: the contraindication is '< 5 mm'; not a contraindication.",
        "fr": "Distance tumeur-moelle d'exactement 5 mm : la contre-indication est « < 5 mm » ; pas de "
              "contre-indication."},
    "boundary_pet_gcsf_day_15": {
        "en": "PET-FDG on day 15 after the last G-CSF dose: the earliest day allowed.",
        "fr": "TEP-FDG à J15 de la dernière dose de G-CSF : le premier jour autorisé."},
    "boundary_ablation_pain_4": {
        "en": "Pain of exactly 4/10: the guideline says '> 4/10'; not eligible for thermal ablation.",
        "fr": "Douleur d'exactement 4/10 : le référentiel dit « > 4/10 » ; pas d'indication de thermo-ablation."},
    "boundary_flare_6_months": {
        "en": "Exactly 6 months since the start of the effective treatment: read as within the flare window.",
        "fr": "Exactement 6 mois depuis le début du traitement efficace : lu comme dans la fenêtre du flare."},
    "check_coagulation": {
        "en": "Coagulation not yet checked: check it and manage anticoagulants and antiplatelet agents before "
              "cementoplasty.",
        "fr": "Coagulation non vérifiée : la vérifier et gérer les anticoagulants et antiagrégants plaquettaires "
              "avant la cimentoplastie."},
    "surgery_life_expectancy_not_given": {
        "en": "Life expectancy not given: surgical recommendations stand, but surgery by life expectancy (SURG-1 to "
              "SURG-3) was not evaluable.",
        "fr": "Espérance de vie non renseignée : les recommandations chirurgicales sont maintenues, mais la "
              "chirurgie selon l'espérance de vie (SURG-1 à SURG-3) n'a pas pu être évaluée."},
    "low_creatinine_overestimates_clearance": {
        "en": "Serum creatinine under 0.4 mg/dL (35 µmol/L): Cockcroft–Gault overestimates the clearance (low "
              "muscle mass?); check the value and its unit.",
        "fr": "Créatinine inférieure à 0,4 mg/dL (35 µmol/L) : Cockcroft–Gault surestime la clairance (masse "
              "musculaire faible ?) ; vérifier la valeur et son unité."},
    "implausible_clearance": {
        "en": "Creatinine clearance over 150 mL/min is implausible: check the creatinine unit and the weight before "
              "dosing.",
        "fr": "Une clairance de la créatinine supérieure à 150 mL/min est peu plausible : vérifier l'unité de la "
              "créatinine et le poids avant de doser."},
    "denosumab_severe_hypocalcaemia_risk": {
        "en": "Clearance under 30 mL/min or dialysis: high risk of severe hypocalcaemia under denosumab; correct "
              "and monitor calcium closely.",
        "fr": "Clairance inférieure à 30 mL/min ou dialyse : risque élevé d'hypocalcémie sévère sous dénosumab ; "
              "corriger et surveiller étroitement la calcémie."},
    "flat_bone_no_mirels": {
        "en": "Pelvis or acetabulum without fracture: a flat bone, so no Mirels score; interventional radiology "
              "(IR-1 to IR-3) and radiotherapy (RT-1) answer for it.",
        "fr": "Bassin ou cotyle sans fracture : os plat, donc pas de score de Mirels ; la radiologie "
              "interventionnelle (IR-1 à IR-3) et la radiothérapie (RT-1) y répondent."},
    "life_expectancy_disagrees_with_scores": {
        "en": "The estimated life expectancy (over 1 year) disagrees with the prognostic scores (Tokuhashi or "
              "Tomita): resection-reconstruction is withheld; reconcile them in RCP.",
        "fr": "L'espérance de vie estimée (plus d'un an) contredit les scores pronostiques (Tokuhashi ou Tomita) : "
              "la résection-reconstruction est retenue ; à concilier en RCP."},
}

# Reasons: why a decision went the way it did, or why a recommendation was withheld (SAFE-1..8).
REASONS: dict[str, T] = {
    "surgery_disfavoured_mscc_5": {
        "en": "Cord compression with surgery disfavoured (MSCC-5): exclusive emergency radiotherapy leads.",
        "fr": "Compression médullaire, chirurgie non privilégiée (MSCC-5) : l'irradiation exclusive en urgence "
              "prime."},
    "surgery_modality_6_weeks_to_1_year": {
        "en": "Life expectancy 6 weeks to 1 year (SURG-2): the less aggressive modality (osteosynthesis, "
              "stabilisation), not resection-reconstruction.",
        "fr": "Espérance de vie de 6 semaines à 1 an (SURG-2) : la modalité la moins agressive (ostéosynthèse, "
              "stabilisation), pas de résection-reconstruction."},
    "life_expectancy_under_6_weeks": {
        "en": 'Life expectancy under 6 weeks ({weeks} weeks): no benefit of surgery (SURG-1).',
        "fr": "Espérance de vie inférieure à 6 semaines ({weeks} semaines) : pas de bénéfice de la chirurgie "
              "(SURG-1)."},
    "life_expectancy_6_weeks_to_1_year": {
        "en": 'Life expectancy 6 weeks to 1 year ({weeks} weeks): less aggressive surgery, not resection (SURG-2).',
        "fr": "Espérance de vie de 6 semaines à 1 an ({weeks} semaines) : chirurgie moins agressive, pas de "
              "résection (SURG-2)."},
    "cord_compression": {
        "en": 'Cord compression at this level.',
        "fr": 'Compression médullaire à ce niveau.'},
    "cord_threat": {
        "en": 'Threat to the cord at this level.',
        "fr": 'Menace médullaire à ce niveau.'},
    "posterior_wall_retropulsion": {
        "en": 'Posterior-wall retropulsion.',
        "fr": 'Recul du mur postérieur.'},
    "puncture_site_infection": {
        "en": 'Infection at the puncture site.',
        "fr": 'Infection au point de ponction.'},
    "uncontrolled_sepsis": {
        "en": 'Uncontrolled or unexplained sepsis.',
        "fr": 'Sepsis non contrôlé ou inexpliqué.'},
    "pain_controlled": {
        "en": 'Pain is controlled by analgesics.',
        "fr": 'Douleur contrôlée par les antalgiques.'},
    "no_cementoplasty_indication": {
        "en": "None of the indications (poorly controlled pain, opioid intolerance, other techniques ineffective, "
              "stabilisation instead of surgery, preventive consolidation).",
        "fr": "Aucune des indications (douleur mal contrôlée, intolérance aux opioïdes, échec des autres "
              "techniques, stabilisation à la place de la chirurgie, consolidation préventive)."},
    "weight_bearing_long_bone": {
        "en": 'Weight-bearing long bone: not alone; only as an adjunct to nailing or screwing (LB-5).',
        "fr": "Os long porteur : pas seule ; seulement en complément d'un enclouage ou vissage (LB-5)."},
    "age_unfavourable": {
        "en": 'Age {value} > 80.',
        "fr": 'Âge {value} > 80 ans.'},
    "age_favourable": {
        "en": 'Age {value} < 80.',
        "fr": 'Âge {value} < 80 ans.'},
    "age_at_limit": {
        "en": 'Age exactly 80.',
        "fr": "Âge d'exactement 80 ans."},
    "karnofsky_unfavourable": {
        "en": 'Karnofsky {value} < 50.',
        "fr": 'Karnofsky {value} < 50.'},
    "karnofsky_favourable": {
        "en": 'Karnofsky {value} > 50.',
        "fr": 'Karnofsky {value} > 50.'},
    "karnofsky_at_limit": {
        "en": 'Karnofsky exactly 50.',
        "fr": "Karnofsky d'exactement 50."},
    "deficit_unfavourable": {
        "en": 'Deficit for {value} h > 24 h.',
        "fr": 'Déficit depuis {value} h > 24 h.'},
    "deficit_favourable": {
        "en": 'Deficit for {value} h < 24 h.',
        "fr": 'Déficit depuis {value} h < 24 h.'},
    "deficit_at_limit": {
        "en": 'Deficit for exactly 24 h.',
        "fr": 'Déficit depuis exactement 24 h.'},
    "life_expectancy_3_months_or_less": {
        "en": 'Life expectancy {months} months, not over 3 months (AR-1).',
        "fr": 'Espérance de vie {months} mois, pas supérieure à 3 mois (AR-1).'},
    "clearance_under_30": {
        "en": 'Creatinine clearance {clearance} mL/min, under 30 mL/min.',
        "fr": 'Clairance de la créatinine {clearance} mL/min, inférieure à 30 mL/min.'},
    "creatinine_rise": {
        "en": "Creatinine {current} has risen beyond the label's limit from its baseline {baseline}; resume at or "
              "below {resume}.",
        "fr": "Créatinine {current} augmentée au-delà de la limite du résumé des caractéristiques du produit "
              "par rapport à la valeur de base "
              "{baseline} ; reprise au plus {resume}."},
    "creatinine_not_back_to_baseline": {
        "en": "Zoledronic acid is withheld and creatinine {current} is not yet back within 10 % of its baseline "
              "{baseline} (at or below {resume}).",
        "fr": "L'acide zolédronique est suspendu et la créatinine {current} n'est pas encore revenue à moins de 10 "
              "% de la valeur de base {baseline} (au plus {resume})."},
    "sbrt_sites_not_1_to_3": {
        "en": '{sites} metastatic sites, not 1 to 3.',
        "fr": '{sites} sites métastatiques, pas 1 à 3.'},
    "not_well_delimited": {
        "en": 'Lesion(s) not well delimited.',
        "fr": 'Lésion(s) mal délimitée(s).'},
    "visceral_metastases": {
        "en": 'Visceral metastases.',
        "fr": 'Métastases viscérales.'},
    "disease_not_stabilised": {
        "en": 'Disease not stabilised.',
        "fr": 'Maladie non stabilisée.'},
    "symptomatic_cord_compression": {
        "en": 'Symptomatic cord compression.',
        "fr": 'Compression médullaire symptomatique.'},
    "metabolic_radiotherapy": {
        "en": 'Metabolic radiotherapy.',
        "fr": 'Radiothérapie métabolique.'},
    "rt_same_site_within_3_months": {
        "en": 'Radiotherapy of this site within 3 months.',
        "fr": 'Radiothérapie de ce site depuis moins de 3 mois.'},
    "life_expectancy_under_3_months": {
        "en": 'Life expectancy under 3 months.',
        "fr": 'Espérance de vie inférieure à 3 mois.'},
    "canal_narrowing_over_25_percent": {
        "en": 'Canal narrowing over 25 %.',
        "fr": 'Rétrécissement canalaire supérieur à 25 %.'},
    "cord_distance_under_5_mm": {
        "en": 'Tumour–cord distance under 5 mm.',
        "fr": 'Distance tumeur–moelle inférieure à 5 mm.'},
    "vertebral_instability_sins_13_or_more": {
        "en": 'Vertebral instability (SINS 13 or more).',
        "fr": 'Instabilité vertébrale (SINS 13 ou plus).'},
    "not_oligometastatic_nor_inflammatory": {
        "en": 'Neither oligometastatic disease nor inflammatory pain.',
        "fr": 'Ni maladie oligométastatique ni douleur inflammatoire.'},
    "pain_4_or_less": {
        "en": 'Pain {pain}/10, not over 4/10.',
        "fr": 'Douleur {pain}/10, pas supérieure à 4/10.'},
    "radiotherapy_alone_here": {
        "en": "Here without surgery: radiotherapy alone.",
        "fr": "Ici sans chirurgie : radiothérapie seule."},
    "rades_group_1_no_benefit_of_surgery": {
        "en": "Rades {total} (group 1): no benefit of surgery.",
        "fr": "Rades {total} (groupe 1) : pas de bénéfice de la chirurgie."},
    "dialysis": {
        "en": "The patient is on dialysis.",
        "fr": "Le patient est dialysé."},
    "implausible_clearance": {
        "en": "Creatinine clearance {clearance} mL/min is implausible (over 150).",
        "fr": "Une clairance de la créatinine de {clearance} mL/min est peu plausible (plus de 150)."},
    "stopping_denosumab": {
        "en": "Denosumab is being stopped (AR-6).",
        "fr": "Le dénosumab est en cours d'arrêt (AR-6)."},
    "antiresorptive_not_indicated": {
        "en": "A bone-resorption inhibitor is not indicated (AR-1).",
        "fr": "Pas d'indication d'inhibiteur de la résorption osseuse (AR-1)."},
    "not_eligible_sbrt": {
        "en": "Not eligible for stereotactic radiotherapy (RT-4).",
        "fr": "Pas d'indication de radiothérapie stéréotaxique (RT-4)."},
    "local_treatment_without_surgery": {
        "en": "Not surgery here: life expectancy under 6 weeks (SURG-1).",
        "fr": "Pas la chirurgie ici : espérance de vie inférieure à 6 semaines (SURG-1)."},
    "tokuhashi_under_6_months": {
        "en": "Revised Tokuhashi predicts survival under 6 months (SURG-4).",
        "fr": "Le score de Tokuhashi révisé prédit une survie inférieure à 6 mois (SURG-4)."},
    "tomita_supportive_care": {
        "en": "Tomita 8-10: supportive care (SURG-5).",
        "fr": "Tomita 8-10 : soins de support (SURG-5)."},
}
